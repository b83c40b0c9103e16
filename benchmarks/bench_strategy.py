"""An application's start-up under each load strategy: eager, lazy, background, service.

The classes are ``embedload.suite.classes``'s (docs/strategies.md says what each figure means); this
module gives them the suite's params: the default model, every runtime, both cache states.
"""

from .common import classes, harness

_PARAMS = (harness.STRATEGY_MODELS, harness.RUNTIMES, harness.CACHES, harness.STRATEGIES_PARAM)


class Strategy(classes.Strategy):
    """Until ready (a request that needs no embedding can be served), and until the first vector."""

    params = _PARAMS


class StrategyCost(classes.StrategyCost):
    """What the load costs the application's own work, and its memory per process."""

    params = _PARAMS


class ServiceMemory(classes.ServiceMemory):
    """The persistent model server's memory, counted once."""

    params = _PARAMS

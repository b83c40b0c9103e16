"""An application's start-up under each load strategy: eager, lazy, background, service.

The classes are ``embedload.suite``'s (docs/strategies.md says what each figure means); this
module gives them the suite's params: the default model, every runtime, both cache states.
"""

from . import common

if common.STRATEGIES:  # an embedload with the strategies (an older one has none)

    class Strategy(common.suite.Strategy):
        """Until ready (a request that needs no embedding can be served), and until the first vector."""

        params = (common.STRATEGY_MODELS, common.RUNTIMES, common.CACHES, common.STRATEGIES)


    class StrategyCost(common.suite.StrategyCost):
        """What the load costs the application's own work, and its memory per process."""

        params = (common.STRATEGY_MODELS, common.RUNTIMES, common.CACHES, common.STRATEGIES)


    class ServiceMemory(common.suite.ServiceMemory):
        """The persistent model server's memory, counted once."""

        params = (common.STRATEGY_MODELS, common.RUNTIMES, common.CACHES, common.STRATEGIES)

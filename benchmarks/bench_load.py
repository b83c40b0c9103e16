"""One model load per sample: each stage's time, its memory, the steady encode and the vector check.

The classes are ``embedload.suite.classes``'s (its docstring says what one sample is); this module gives
them the suite's params: models x runtimes x cache states.
"""

from .common import classes, harness

_PARAMS = (harness.MODELS, harness.RUNTIMES, harness.CACHES)


class Stages(classes.Stages):
    """Import, init, first encode and the whole load, each timed in the same fresh interpreter."""

    params = _PARAMS


class Memory(classes.Memory):
    """Peak RSS within each stage, what init and first_encode add at their peak, RSS growth."""

    params = _PARAMS


class Encode(classes.Encode):
    """Steady-state encode: median of five encodes after the first, so warm-up cost shows."""

    params = _PARAMS


class Check(classes.Check):
    """Same output or it doesn't count: the first vector's cosine with st-torch's, per runtime."""

    params = _PARAMS

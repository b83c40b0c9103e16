"""Figures the probe measures in a fresh child, tracked with asv ``track_`` benchmarks.

The classes are ``embedload.suite``'s (its docstring says why memory is the probe's, not asv's
``peakmem_``); this module gives them the suite's params.
"""

from . import common

FIGURES = common.FIGURES
_PARAMS = (common.MODELS, common.RUNTIMES, common.CACHES)


class Memory(common.suite.Memory):
    """Peak RSS within each stage, what init and first_encode add at their peak, RSS growth."""

    params = _PARAMS


class Encode(common.suite.Encode):
    """Steady-state encode: median of five encodes after the first, so warm-up cost shows."""

    params = _PARAMS


class Check(common.suite.Check):
    """Same output or it doesn't count: the first vector's cosine with st-torch's, per runtime."""

    params = _PARAMS

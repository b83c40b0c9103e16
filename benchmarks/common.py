"""Params and the one helper the benchmark modules share.

The suite must be importable whatever is installed: params are fixed strings, nothing heavy is
imported here, and an unavailable combination raises ``NotImplementedError`` in ``setup`` (asv
then shows it as skipped, with the reason in its log).
"""

from pathlib import Path

from embedload.models import KNOWN_MODELS, ModelError, resolve_model
from embedload.config import ConfigError, load_config
from embedload.runtimes import CACHE_STATES, RUNTIME_NAMES, NotAvailable, check_measurable

MODELS = tuple(KNOWN_MODELS)
RUNTIMES = RUNTIME_NAMES
CACHES = CACHE_STATES

# Timing: a fresh interpreter per sample. rounds x repeat = 8 samples per benchmark, enough for
# asv's Mann-Whitney test to reject (it needs C(n+m, n) > 500, i.e. n = m >= 6). asv's warm-up
# sample (warmup_time > 0) is discarded; it also makes sure the files are in the page cache.
TIMING = dict(number=1, repeat=4, rounds=2, warmup_time=0.01, timeout=600)

# The suite's own pyproject.toml, for [tool.embedload.models]: asv runs benchmarks from a
# temporary folder, so the file is not found by walking up from the working directory.
_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def config():
    try:
        return load_config(_PYPROJECT if _PYPROJECT.is_file() else None)
    except ConfigError as exc:
        raise NotAvailable(str(exc).splitlines()[0]) from None


def resolve(model):
    """The resolved model, or a skip with the first line of the reason."""
    try:
        return resolve_model(model, config())
    except ModelError as exc:
        raise NotAvailable(exc.summary) from None


def measurable(runtime, cache):
    return check_measurable(runtime, cache)

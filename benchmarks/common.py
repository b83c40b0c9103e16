"""Params and the few helpers the benchmark modules share.

The suite must be importable whatever is installed: params are fixed strings, nothing heavy is
imported here, and an unavailable combination raises ``NotImplementedError`` in ``setup`` (asv
then shows it as skipped). asv runs these modules from the working tree against the embedload of
the commit being measured, so they only use embedload's stable API.
"""

import contextlib
from pathlib import Path

from embedload.config import ConfigError, load_config
from embedload.models import KNOWN_MODELS, ModelError, resolve_model
from embedload.runtimes import CACHE_STATES, RUNTIME_NAMES, NotAvailable, check_measurable

try:
    from embedload import reasons
except ImportError:  # an embedload that predates reasons: skips still work, unrecorded
    reasons = None
try:
    from embedload import prepare
except ImportError:  # an embedload that predates prepare: only st-torch is measurable there
    prepare = None

MODELS = tuple(KNOWN_MODELS)
RUNTIMES = RUNTIME_NAMES
CACHES = CACHE_STATES

# Timing: a fresh interpreter per sample. rounds x repeat = 8 samples per benchmark, enough for
# asv's Mann-Whitney test to reject (it needs C(n+m, n) > 500, i.e. n = m >= 6). asv interleaves
# rounds across benchmarks, so 4 rounds of 2 spread each benchmark over 4 time windows: on this
# shared machine drift between windows was up to 10%, and fewer, longer rounds let it bias one
# stage against another. No warm-up sample (warmup_time=0): setup reads the stage's files for
# cache=warm, and evicts them before every sample for cache=cold.
TIMING = dict(number=1, repeat=2, rounds=4, warmup_time=0, timeout=600)

# The suite's own pyproject.toml, for [tool.embedload.models]: asv runs benchmarks from a
# temporary folder, so the file is not found by walking up from the working directory.
_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def config():
    try:
        return load_config(_PYPROJECT if _PYPROJECT.is_file() else None)
    except ConfigError as exc:
        raise NotAvailable(str(exc).splitlines()[0]) from None


def resolve(model):
    """The resolved model, or a skip with a one-line reason."""
    try:
        return resolve_model(model, config())
    except ModelError as exc:
        raise NotAvailable(getattr(exc, "summary", str(exc).splitlines()[0])) from None


def measurable(runtime, cache):
    return check_measurable(runtime, cache)


def loaded_folder(model, runtime):
    """The folder the runtime's stages load: the model's, or the one ``embedload prepare`` made.

    Unprepared: a skip naming the command. Prepared but computing another vector: a failure.
    """
    if not runtime.prepared:
        return model
    if prepare is None:
        raise NotAvailable(f"{runtime.name} needs an embedload with `embedload prepare`")
    return prepare.model_for(model, runtime)


def make_warm(runtime, model_path, device):
    """Read every file the stages read, so that warm samples find them in the page cache."""
    from embedload import pagecache

    files = pagecache.stage_files(runtime, model_path, device)
    pagecache.load(files.get("total", files["import"]))


def make_cold_sources(runtime, model_path, device, label):
    """Per stage: untimed source that evicts what the stage reads, failing the sample unless cold."""
    import os

    from embedload import pagecache

    drop = os.environ.get("EMBEDLOAD_DROP_CACHES") == "1"
    return {
        stage: pagecache.helper_source(pagecache.write_file_list(files), f"{label}|{stage}", drop)
        for stage, files in pagecache.stage_files(runtime, model_path, device).items()
    }


@contextlib.contextmanager
def recorded(benchmark, params):
    """Keep the reason for a skip or a setup failure, which asv prints but does not save."""
    name = f"{type(benchmark).__module__.rsplit('.', 1)[-1]}.{type(benchmark).__qualname__}"
    try:
        yield
    except NotImplementedError as exc:
        if reasons:
            reasons.record(name, params, "skipped", str(exc))
        raise
    except Exception as exc:
        if reasons:
            reasons.record(name, params, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise

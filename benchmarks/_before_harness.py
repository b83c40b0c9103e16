"""The harness as the suite carried it before ``embedload.harness`` existed (docs/asv.md).

Used by ``common.py`` only when the embedload being measured has no ``embedload.harness``. Keep it
as it is: it runs against older embedloads, with their names. Delete it when make gate no longer
needs commits that old (docs/asv.md).

Params and the few helpers the benchmark modules share.

The suite must be importable whatever is installed: params are fixed strings, nothing heavy is
imported here, and an unavailable combination raises ``NotImplementedError`` in ``setup`` (asv
then shows it as skipped). asv runs these modules from the working tree against the embedload of
the commit being measured, so they only use embedload's stable API.
"""

import contextlib
import statistics
from pathlib import Path

from embedload import runtimes  # noqa: F401  (bench_timing's stage sources)
from embedload.config import ConfigError, load_config
from embedload.models import KNOWN_MODELS, ModelError, resolve_model
from embedload.probe import ProbeError, run_probe
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
PYPROJECT = _PYPROJECT


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
    if not getattr(runtime, "prepared", False):  # before prepare, every runtime loaded the model folder
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


try:
    from embedload.profile import probe_figure
except ImportError:  # an older embedload: its private name, and no figure it did not know yet
    try:
        from embedload.profile import _figure
    except ImportError:  # before the profiler (2c0532c): the figures are skipped with this reason
        _figure = None

    def probe_figure(run, figure):
        if _figure is None:
            raise NotAvailable("this embedload predates embedload.profile, which reads the probe's figures")
        try:
            return _figure(run, figure)
        except KeyError:
            return None

PROBE_RUNS = 3
FIGURES = (
    *(f"peak_rss_{s}" for s in ("import", "init", "first_encode", "total")),
    *(f"peak_increase_{s}" for s in ("init", "first_encode")),
    "rss_growth", "steady_encode", "vector_cosine",
)


def probe_key(model, runtime, cache):
    return f"{model}|{runtime}|{cache}"


def probe_all_combinations():
    figures = {}
    for model in MODELS:
        for runtime in RUNTIMES:
            for cache in CACHES:
                key = probe_key(model, runtime, cache)
                try:
                    measurable(runtime, cache)
                    resolved = resolve(model)
                    runs = [run_probe(resolved, runtime, cache) for _ in range(PROBE_RUNS)]
                    values = {name: [v for v in (probe_figure(run, name) for run in runs) if v is not None]
                              for name in FIGURES}
                except NotAvailable as exc:
                    figures[key] = {"skip": str(exc)}
                    continue
                except ProbeError as exc:
                    figures[key] = {"error": f"{exc}\n{exc.stderr[-4000:]}"}
                    continue
                except RuntimeError as exc:
                    figures[key] = {"error": f"{type(exc).__name__}: {exc}"}
                    continue
                figures[key] = {name: statistics.median(v) for name, v in values.items() if v}
    return figures


probe_all_combinations.timeout = 1800

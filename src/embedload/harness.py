"""The asv suite's harness: the only embedload module ``benchmarks/`` imports.

Params, timing settings and the helpers the benchmark classes call: resolving a model (or a
skip with its reason), the folder a runtime loads, warm and cold page-cache preparation, the
reasons kept for skips and failures, and the probe runs behind the ``track_`` figures.

The suite must be importable whatever is installed: params are fixed strings, nothing heavy is
imported here, and an unavailable combination raises ``NotImplementedError`` in ``setup`` (asv
then shows it as skipped). asv runs ``benchmarks/`` from the working tree against the embedload
of the commit being measured; for an embedload older than this module the suite falls back to
``benchmarks/_before_harness.py`` (docs/asv.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import statistics
from pathlib import Path

from . import pagecache, reasons, runtimes  # noqa: F401  (runtimes: the stage sources bench_timing uses)
from .catalog import PROBE_FIGURES
from .config import ConfigError, SuiteSettings, load_config
from .models import DEFAULT_MODEL, KNOWN_MODELS, ModelError, resolve_model
from .prepared import model_for
from .probe import ProbeError, probe_figure, run_probe
from .runtimes import CACHE_STATES, RUNTIME_NAMES, NotAvailable, check_measurable, importable, loader_runtime
from .startup import RUN_FIGURES, check_strategy, run_strategy, start_service, strategy_service  # noqa: F401  (start_service: the suite's)
from .strategies import STRATEGY_NAMES

MODELS = tuple(KNOWN_MODELS)
RUNTIMES = RUNTIME_NAMES
CACHES = CACHE_STATES
#: The load strategies (``bench_strategy``), measured on the default model.
STRATEGY_MODELS = (DEFAULT_MODEL,)
STRATEGIES_PARAM = STRATEGY_NAMES

# Timing: a fresh interpreter per sample. rounds x repeat = 8 samples per benchmark, enough for
# asv's Mann-Whitney test to reject (p < 0.002 two-sided needs C(n+m, n) > 1000, i.e. n = m >= 7). asv interleaves
# rounds across benchmarks, so 4 rounds of 2 spread each benchmark over 4 time windows: on this
# shared machine drift between windows was up to 10%, and fewer, longer rounds let it bias one
# stage against another. No warm-up sample (warmup_time=0): setup reads the stage's files for
# cache=warm, and evicts them before every sample for cache=cold.
TIMING = dict(number=1, repeat=2, rounds=4, warmup_time=0, timeout=600)
#: The gate's samples (``make gate`` and ``tools/validate_gate.py`` set ``EMBEDLOAD_TIMING=gate``):
#: 20 a side, in 10 rounds that asv continuous interleaves between the two commits, so both see
#: the same minutes. At ~10% noise per sample the gate's test then sees about +11% per
#: comparison (two in the run), and +10% in either the import or the total ~97% of the time
#: (docs/gate.md: "The test"; tests/test_power.py simulates it).
GATE_TIMING = dict(TIMING, rounds=10)
if os.environ.get("EMBEDLOAD_TIMING") == "gate":
    TIMING = GATE_TIMING

#: Fresh probe processes per combination behind each ``track_`` figure (their median).
PROBE_RUNS = 3
#: The figures the ``track_`` benchmarks read, from the catalog.
FIGURES = tuple(f.name for f in PROBE_FIGURES)

#: The suite's own pyproject.toml, for [tool.embedload.models]; set by benchmarks/common.py
#: (asv runs benchmarks from a temporary folder, so walking up from there finds nothing).
PYPROJECT: Path | None = None
#: Loader -> its strategy (eager, lazy, background, service), for an application's suite.
STRATEGIES: dict[str, str] = {}


def config():
    try:
        return load_config(PYPROJECT if PYPROJECT is not None and PYPROJECT.is_file() else None)
    except ConfigError as exc:
        raise NotAvailable(str(exc).splitlines()[0]) from None


def resolve(model):
    """The resolved model, or a skip with a one-line reason."""
    try:
        return resolve_model(model, config())
    except ModelError as exc:
        raise NotAvailable(getattr(exc, "summary", str(exc).splitlines()[0])) from None


def measurable(runtime, cache):
    """The runtime (a built-in name, or an application's ``module:callable`` loader), or a skip."""
    if ":" not in runtime:
        return check_measurable(runtime, cache)
    check_measurable("st-torch", cache)  # the cache state, and the stack a loader builds on
    module = runtime.split(":", 1)[0]
    if not importable(module):
        raise NotAvailable(f"loader module {module} is not importable in this environment (is the application installed?)")
    rt = loader_runtime(runtime)
    strategy = STRATEGIES.get(runtime)
    return dataclasses.replace(rt, description=f"{rt.description} ({strategy})") if strategy else rt


def configure(pyproject: Path) -> SuiteSettings:
    """An application's suite: params from its ``[tool.embedload.suite]`` (``embedload init`` writes the call).

    Sets what the suite's classes and their probe runs iterate over; returns the settings.
    """
    global PYPROJECT, MODELS, RUNTIMES, CACHES, STRATEGIES
    PYPROJECT = Path(pyproject)
    settings = load_config(PYPROJECT).suite(DEFAULT_MODEL)
    MODELS, RUNTIMES, CACHES = settings.models, settings.loaders + settings.runtimes, settings.caches
    STRATEGIES = dict(settings.strategies)
    return settings


def loaded_folder(model, runtime):
    """The folder the runtime's stages load: the model's, or the one ``embedload prepare`` made.

    Unprepared: a skip naming the command. Prepared but computing another vector: a failure.
    """
    if not runtime.needs_preparing:
        return model
    return model_for(model, runtime)


def make_warm(runtime, model_path, device):
    """Read every file the stages read, so that warm samples find them in the page cache."""
    pagecache.make_warm(runtime, model_path, device)


def make_cold_sources(runtime, model_path, device, label):
    """Per stage: untimed source that evicts what the stage reads, failing the sample unless cold."""
    drop = os.environ.get("EMBEDLOAD_DROP_CACHES") == "1"
    return {
        stage: pagecache.helper_source(pagecache.write_file_list(files), f"{label}|{stage}", drop)
        for stage, files in pagecache.stage_files(runtime, model_path, device).items()
    }


@contextlib.contextmanager
def recorded(benchmark, params):
    """Keep the reason for a skip or a setup failure, which asv prints but does not save."""
    name = benchmark_class_name(benchmark)
    try:
        yield
    except NotImplementedError as exc:
        reasons.record(name, params, "skipped", str(exc))
        raise
    except Exception as exc:
        reasons.record(name, params, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise


def benchmark_class_name(benchmark) -> str:
    """``bench_timing.Import``: the class as asv names it in the results (``<module>.<class>``)."""
    return f"{type(benchmark).__module__.rsplit('.', 1)[-1]}.{type(benchmark).__qualname__}"


def probe_key(model, runtime, cache):
    return f"{model}|{runtime}|{cache}"


def probe_all_combinations():
    """asv ``setup_cache`` of the probe's figures: {key: {figure: median}} or a reason, per combination.

    Nothing is probed here: a combination gets its ``PROBE_RUNS`` probe runs the first time a ``track_``
    benchmark of it asks (:class:`OnFirstUse`), so a run probes only what its ``--bench`` selected.
    """
    return OnFirstUse({probe_key(m, r, c): (m, r, c) for m in MODELS for r in RUNTIMES for c in CACHES}, _probe_one)


def _probe_one(model, runtime, cache):
    def measure():
        rt, resolved = measurable(runtime, cache), resolve(model)
        return [{name: probe_figure(run, name) for name in FIGURES}
                for run in (run_probe(resolved, rt, cache) for _ in range(PROBE_RUNS))]

    return _medians_or_reason(measure, FIGURES)


class OnFirstUse:
    """What a ``setup_cache`` returns: each combination's figures, measured when first asked for.

    asv runs every ``track_`` benchmark in its own process, in the ``setup_cache`` folder (the
    working directory of both; asv removes it after the run). The first process to ask for a
    combination measures it and keeps the result there as JSON (written whole, then renamed);
    the figures after it read that file. A combination no selected benchmark asks for is never
    measured.
    """

    def __init__(self, params: dict, measure):
        self.folder = os.getcwd()
        self.params = params
        self.measure = measure

    def __getitem__(self, key):
        if key not in self.params:
            raise KeyError(key)
        path = Path(self.folder) / f"{self.measure.__name__.strip('_')}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        if path.is_file():
            return json.loads(path.read_text())
        figures = self.measure(*self.params[key])
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(figures))
        os.replace(tmp, path)
        return figures


def _medians_or_reason(measure, names) -> dict:
    """``measure()``'s runs ({figure: value or None} each) as {figure: median}, or why there are none:
    ``{"skip": reason}`` (asv shows a skip) or ``{"error": text}`` (the benchmark fails with it)."""
    try:
        runs = measure()
    except NotAvailable as exc:
        return {"skip": str(exc)}
    except ProbeError as exc:
        return {"error": f"{exc}\n{exc.stderr[-4000:]}"}
    except RuntimeError as exc:  # e.g. prepared.CheckFailed: it computes something else
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {name: statistics.median(v) for name in names if (v := [r[name] for r in runs if r.get(name) is not None])}


def strategy_key(model, runtime, cache, strategy):
    return f"{model}|{runtime}|{cache}|{strategy}"


def strategy_all_combinations():
    """asv ``setup_cache`` of the strategy runs' figures: {key: {figure: median}} or a reason, per combination.

    As :func:`probe_all_combinations`: a combination gets its ``PROBE_RUNS`` strategy runs
    (``embedload.startup``; a service started once for them) when a ``track_`` benchmark first asks.
    """
    return OnFirstUse({strategy_key(m, r, c, s): (m, r, c, s) for m in STRATEGY_MODELS for r in RUNTIMES
                       for c in CACHES for s in STRATEGIES_PARAM}, _strategy_one)


def _strategy_one(model, runtime, cache, strategy):
    def measure():
        st, rt, resolved = check_strategy(strategy, cache), measurable(runtime, cache), resolve(model)
        with strategy_service(st, resolved, rt, runtimes.device_from_env()) as service:
            return [run_strategy(resolved, rt, cache, st, service=service) for _ in range(PROBE_RUNS)]

    return _medians_or_reason(measure, RUN_FIGURES)

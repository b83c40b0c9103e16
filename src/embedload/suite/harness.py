"""The asv suite's harness: the only embedload module ``benchmarks/`` imports.

Params, sampling settings and the helpers the benchmark classes call: resolving a model (or a
skip with its reason), the folder a runtime loads, the reasons kept for skips and failures, and
the rounds of fresh interpreters behind every figure (:class:`Samples`).

The suite must be importable whatever is installed: params are fixed strings, nothing heavy is
imported here, and an unavailable combination raises ``NotImplementedError`` in ``setup`` (asv
then shows it as skipped). asv runs ``benchmarks/`` from the working tree against the embedload
of the commit being measured (docs/asv.md says which commits that can be).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from pathlib import Path

from embedload.base import reasons
from embedload.base.config import ConfigError, SuiteSettings, load_config
from embedload.measure import conditions, runtimes
from embedload.measure.probe import ProbeError, run_figures, run_probe
from embedload.measure.runtime_folders import model_for
from embedload.measure.runtimes import (
    CACHE_STATES,
    RUNTIME_NAMES,
    NotAvailable,
    check_measurable,
    importable,
    loader_runtime,
)
from embedload.measure.strategies import STRATEGY_NAMES
from embedload.measure.strategy_runner import check_strategy, run_strategy, strategy_service
from embedload.models.registry import DEFAULT_MODEL, KNOWN_MODELS, ModelError, resolve_model

MODELS = tuple(KNOWN_MODELS)
RUNTIMES = RUNTIME_NAMES
CACHES = CACHE_STATES
#: The load strategies (``bench_strategy``), measured on the default model.
STRATEGY_MODELS = (DEFAULT_MODEL,)
STRATEGIES_PARAM = STRATEGY_NAMES

#: Sampling: one fresh interpreter per sample, and every figure of a combination comes from the
#: same interpreters (``Samples``). A round is ``SAMPLES_PER_ROUND`` of them; asv gives the rounds
#: (``asv run -a rounds=N``: asv runs a ``track_`` benchmark once unless told, and then appends each
#: round's samples). ``ROUNDS`` x 2 = 8 samples a figure, enough for asv's Mann-Whitney test to
#: reject (p < 0.002 two-sided needs C(n+m, n) > 1000, i.e. n = m >= 7); the gate's 10 rounds give
#: 20 a side, which ``asv continuous --interleave-rounds`` alternates between the two commits round
#: by round. Several short rounds spread a figure over several time windows, so that the machine's
#: drift between windows cannot bias one combination against another (docs/measurement.md).
SAMPLES_PER_ROUND = 2
ROUNDS = 4
#: The gate's rounds (``make gate``, ``tools/validate_gate.py``): 20 samples a side. The gate's
#: power at that count is in docs/gate.md ("The test"; tests/test_power.py simulates it).
GATE_ROUNDS = 10
#: Seconds a figure may take: the first figure of a round measures the round's interpreters.
TIMEOUT = 1800

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
        raise NotAvailable(_missing_module_reason(module))
    rt = loader_runtime(runtime)
    strategy = STRATEGIES.get(runtime)
    return dataclasses.replace(rt, description=f"{rt.description} ({strategy})") if strategy else rt


def _missing_module_reason(module: str) -> str:
    """Why a loader's module cannot be imported: it does not exist at this commit, or its package is not installed."""
    from importlib import metadata

    top = module.split(".", 1)[0]
    project = os.environ.get("ASV_PROJECT", "")  # asv names the application it built for this commit
    try:
        installed = bool(project) and metadata.distribution(project) is not None
    except metadata.PackageNotFoundError:
        installed = False
    if installed or (top != module and importable(top)):
        what = f"the application {project}" if installed else f"its package {top}"
        return (f"loader module {module} does not exist at this commit ({what} is installed): the history worth "
                f"measuring starts at the commit that adds it (embedload init prints that range)")
    return f"package {top} is not installed in this environment, so loader module {module} cannot be imported"


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
    """``bench_load.Stages``: the class as asv names it in the results (``<module>.<class>``)."""
    return f"{type(benchmark).__module__.rsplit('.', 1)[-1]}.{type(benchmark).__qualname__}"


def load_key(model, runtime, cache):
    return f"{model}|{runtime}|{cache}"


def strategy_key(model, runtime, cache, strategy):
    return f"{model}|{runtime}|{cache}|{strategy}"


def load_samples():
    """asv ``setup_cache`` of the load's figures (``bench_load``): :class:`Samples` of every combination."""
    return Samples({load_key(m, r, c): (m, r, c) for m in MODELS for r in RUNTIMES for c in CACHES}, _load_round)


def strategy_samples():
    """asv ``setup_cache`` of the strategies' figures (``bench_strategy``): :class:`Samples` of every combination."""
    return Samples({strategy_key(m, r, c, s): (m, r, c, s) for m in STRATEGY_MODELS for r in RUNTIMES
                    for c in CACHES for s in STRATEGIES_PARAM}, _strategy_round)


def _load_round(model, runtime, cache):
    rt, resolved = measurable(runtime, cache), resolve(model)
    # warm: the round's first run reads every file; the next ones follow it with nothing evicted between
    return [run_figures(run_probe(resolved, rt, cache, already_warm=i > 0)) for i in range(SAMPLES_PER_ROUND)]


def _strategy_round(model, runtime, cache, strategy):
    st, rt, resolved = check_strategy(strategy, cache), measurable(runtime, cache), resolve(model)
    with strategy_service(st, resolved, rt, runtimes.device_from_env()) as service:
        return [run_strategy(resolved, rt, cache, st, service=service) for _ in range(SAMPLES_PER_ROUND)]


class Samples:
    """What a ``setup_cache`` returns: each combination's samples, a round of fresh interpreters at a time.

    asv runs every ``track_`` benchmark in a process of its own, in the ``setup_cache`` folder, and
    repeats the whole set once per round. :meth:`take` gives a figure the samples of every round
    measured in this folder that it has not yet returned; when there is none, it first measures a
    round: ``SAMPLES_PER_ROUND`` fresh interpreters, each one sample of *every* figure of the
    combination. So in each round the first figure asked measures, the others read the same
    interpreters, and no figure pays a load of its own. Each round is kept as JSON in the folder
    (written whole, then renamed), with the conditions over its measurement, recorded once per
    benchmark class. A combination no selected benchmark asks for is never measured.
    """

    def __init__(self, params: dict, measure):
        self.folder = os.getcwd()
        self.params = params
        self.measure = measure

    def _path(self, key: str, what: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return Path(self.folder) / f"{self.measure.__name__.strip('_')}-{digest}.{what}"

    def _read_count(self, key: str, who: str) -> int:
        path = self._path(key, f"{who}.taken")
        return int(path.read_text()) if path.is_file() else 0

    def _write(self, path: Path, text: str) -> None:
        tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def rounds(self, key: str) -> list[dict]:
        """The rounds measured so far for ``key``, in order."""
        found, i = [], 0
        while (path := self._path(key, f"round{i}.json")).is_file():
            found.append(json.loads(path.read_text()))
            i += 1
        return found

    def measure_round(self, key: str) -> dict:
        """Measure one round of ``key`` and keep it: {"samples": [{figure: value}], "conditions"} or a reason."""
        if key not in self.params:
            raise KeyError(key)
        window = conditions.Window.open()
        found = _samples_or_reason(lambda: self.measure(*self.params[key]))
        closed = window.close()
        # how many measured interpreters the round started: the count make bench's log line adds up
        found["conditions"] = closed and {**closed, "samples": len(found.get("samples", ()))}
        self._write(self._path(key, f"round{len(self.rounds(key))}.json"), json.dumps(found))
        return found

    def checked(self, key: str, check):
        """``check()``'s value for ``key``, computed by the first figure that asks in this run and kept in
        the folder; a :class:`NotAvailable` it raised is kept and raised again. asv forks every figure
        from the same process, so nothing an earlier figure computed is in memory: without this, each
        figure would pay the check again (resolving a model imports huggingface_hub; docs/measurements.md
        has what that cost)."""
        path = self._path(key, "checked.json")
        if path.is_file():
            found = json.loads(path.read_text())
            if "skip" in found:
                raise NotAvailable(found["skip"])
            return found["value"]
        try:
            value = check()
        except NotAvailable as exc:
            self._write(path, json.dumps({"skip": str(exc)}))
            raise
        self._write(path, json.dumps({"value": value}))
        return value

    def take(self, key: str, figure: str, benchmark_class: str = "") -> dict:
        """asv's result for ``figure``: ``{"samples": [...], "number": 1}``, its rounds not yet taken.

        Raises :class:`NotAvailable` for a combination that cannot be measured (a skip) and
        ``RuntimeError`` for one that failed (with the failure's text).
        """
        taken = self._read_count(key, figure)
        rounds = self.rounds(key)
        if taken >= len(rounds):
            rounds.append(self.measure_round(key))
        new = rounds[taken:]
        for found in new:
            if "skip" in found:
                raise NotAvailable(found["skip"])
            if "error" in found:
                raise RuntimeError(found["error"])
        self._write(self._path(key, f"{figure}.taken"), str(len(rounds)))
        if benchmark_class:
            recorded_rounds = self._read_count(key, benchmark_class)
            params = tuple(self.params[key])
            for found in rounds[recorded_rounds:]:
                conditions.record_found(benchmark_class, params, found.get("conditions"))
            self._write(self._path(key, f"{benchmark_class}.taken"), str(len(rounds)))
        samples = [s[figure] for found in new for s in found["samples"] if s.get(figure) is not None]
        if not samples:
            raise NotAvailable(f"{figure} is not measured for {key}")
        return {"samples": samples, "number": 1}


def check_load(model, runtime, cache) -> dict:
    """What a figure's setup checks before any interpreter starts: the combination can be measured (or a
    skip), and whether its runtime is the reference the others' vectors are checked against."""
    rt = measurable(runtime, cache)
    loaded_folder(resolve(model), rt)
    return {"reference": not rt.needs_preparing}


def check_strategy_run(model, runtime, cache, strategy) -> dict:
    """As :func:`check_load`, for a strategy run: and whether the strategy runs a model server."""
    st = check_strategy(strategy, cache)
    loaded_folder(resolve(model), measurable(runtime, cache))
    return {"server": st.server}


def checked(samples, key: str, check) -> dict:
    """``check()``, once per combination and run when ``samples`` (the setup_cache) is given."""
    return check() if samples is None else samples.checked(key, check)


def _samples_or_reason(measure) -> dict:
    """``measure()``'s runs as {"samples": runs}, or why there are none: ``{"skip": reason}`` (asv
    shows a skip) or ``{"error": text}`` (the benchmark fails with it)."""
    try:
        return {"samples": measure()}
    except NotAvailable as exc:
        return {"skip": str(exc)}
    except ProbeError as exc:
        return {"error": f"{exc}\n{exc.stderr[-4000:]}"}
    except RuntimeError as exc:  # e.g. prepared.CheckFailed: it computes something else
        return {"error": f"{type(exc).__name__}: {exc}"}

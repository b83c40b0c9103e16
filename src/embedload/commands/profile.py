"""``embedload profile`` as a library call: the seed's standalone profiler, through the suite's own probe.

Each run is a fresh process (:func:`embedload.measure.probe.run_probe`, the same stage source as the asv
suite); :mod:`embedload.results.profile_measurements` turns the runs into the gate's measurements, and
:func:`embedload.judge.gate.evaluate` judges them. Everything that could stop the command after the
measurements (an unwritable ``save_runs``, a bad baseline, targets, device, root for
``drop_caches``) is checked before the first run.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embedload import __version__
from embedload.base.config import Config, UsageError
from embedload.base.files import OutputError, check_writable, dump_json, write_new_file
from embedload.base.units import format_seconds
from embedload.judge.gate import DEFAULT_THRESHOLD, evaluate, load_baseline_file
from embedload.judge.targets import load_targets
from embedload.judge.verdicts import Report
from embedload.measure.conditions import Window, summarize
from embedload.measure.importtime import profile_imports
from embedload.measure.pagecache import check_can_drop_caches
from embedload.measure.probe import DEFAULT_TIMEOUT, run_probe
from embedload.measure.runtimes import choose_runtime, device_from_env, get_runtime
from embedload.measure.strategy_runner import check_strategy, run_strategy, strategy_service
from embedload.models.registry import DEFAULT_MODEL, resolve_model
from embedload.results.asv_results import Measurement
from embedload.results.profile_measurements import (
    measurements_from_runs,
    measurements_from_strategy_runs,
    profile_document,
)

#: Fresh processes of ``python -X importtime`` when ``imports`` is asked for.
IMPORT_RUNS = 3


@dataclass
class Profile:
    """What ``embedload profile`` found: the judged report and the runs (``profile_document``)."""

    report: Report
    document: dict
    #: Judged against a baseline: only then can a profile fail (exit 1).
    gated: bool

    @property
    def exit_code(self) -> int:
        """0; the gate's exit against a baseline; 2 when nothing could be judged."""
        return self.report.exit_code if (self.gated or self.report.problems) else 0


def profile(
    models: Sequence[str] = (DEFAULT_MODEL,),
    *,
    config: Config,
    runtime: str = "st-torch",
    loader: str | None = None,
    runs: int = 5,
    cold_start: bool = False,
    drop_caches: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    baseline: Path | None = None,
    baseline_env: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    imports: bool = False,
    save_runs: Path | None = None,
    force: bool = False,
    argv: Sequence[str] = (),
    progress: Callable[[str], None] = lambda line: None,
) -> Profile:
    """Profile ``models`` in ``runs`` fresh processes each, save the runs, judge them.

    Raises :class:`UsageError`, ``ModelError``, ``ResultsError`` (baseline), ``OutputError``
    before measuring; ``ProbeError`` when a run fails. When ``save_runs`` cannot be written after
    measuring, the runs go to a file of their own, named in the ``OutputError``.
    """
    if runs < 1:
        raise UsageError(f"--runs must be at least 1; got {runs}")
    if drop_caches and not cold_start:
        raise UsageError("--drop-caches only applies with --cold-start")
    if save_runs:
        check_writable(save_runs, force=force, option="--save-runs")
    load_targets(config)
    device_from_env()
    if drop_caches:
        check_can_drop_caches()
    measured = choose_runtime(runtime, loader, config.loader() if (loader or runtime == "loader") else None)
    resolved = [resolve_model(name, config) for name in models]
    loaded = load_baseline_file(Path(baseline), None) if baseline else (None, None)
    cache = "cold" if cold_start else "warm"
    progress(f"profiling {', '.join(m.name for m in resolved)} with {loader or runtime} ({cache}), "
             f"{runs} fresh process(es) each")
    window = Window.open()  # what else the machine does while the runs run
    results = profile_runs(resolved, measured, cache, runs, timeout=timeout, progress=progress, drop_caches=drop_caches)
    found = window.close()
    conditions = summarize([found]) if found else None
    document = profile_document(results, list(argv))
    if save_runs:
        _save(document, Path(save_runs), force)
        progress(f"runs saved to {save_runs}")
    attributed = None
    if imports:
        code = (get_runtime(measured) if isinstance(measured, str) else measured).import_code
        progress(f"attributing the import (-X importtime, {IMPORT_RUNS} fresh processes)")
        attributed = profile_imports(code, runs=IMPORT_RUNS, progress=progress)
    first = results[0]
    measured_runs = [dataclasses.replace(m, conditions=conditions) if m.status == "ok" and m.samples else m
                     for m in measurements_from_runs(results)]
    report = evaluate(
        measured_runs, config=config, commit="(working tree)", machine=document["machine"],
        baseline=loaded[0], baseline_name=loaded[1], threshold=threshold,
        fail_on=("regressions",) if baseline else (),  # without a baseline: a report, nothing gated
        env={"EMBEDLOAD_DEVICE": first["device"]}, versions=first["versions"], source="profile",
        imports=attributed, baseline_env=baseline_env, stage_imports=stage_imports(results),
    )
    return Profile(report=report, document=document, gated=bool(baseline))


def profile_strategy(
    strategies: Sequence[str],
    model: str = DEFAULT_MODEL,
    *,
    config: Config,
    runtime: str = "st-torch",
    loader: str | None = None,
    runs: int = 5,
    cold_start: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[str], None] = lambda line: None,
) -> Profile:
    """The application's start-up under each strategy, ``runs`` times (``embedload.measure.strategy_runner``):
    the same figures as ``bench_strategy``, from the same source, judged into one report."""
    if runs < 1:
        raise UsageError(f"--runs must be at least 1; got {runs}")
    cache = "cold" if cold_start else "warm"
    chosen = []
    for name in strategies:
        try:
            chosen.append(check_strategy(name, cache))
        except NotImplementedError as exc:
            raise UsageError(str(exc)) from None
    load_targets(config)
    device = device_from_env()
    measured = choose_runtime(runtime, loader, config.loader() if (loader or runtime == "loader") else None)
    rt = get_runtime(measured) if isinstance(measured, str) else measured
    resolved = resolve_model(model, config)
    measurements: list[Measurement] = []
    window = Window.open()
    for st in chosen:
        progress(f"{st.name}: {runs} start-up(s) of {resolved.name} with {rt.name} ({cache}), each a timing and a "
                 f"foreground process" + ("; the model server starts first" if st.server else ""))
        with strategy_service(st, resolved, rt, device, timeout=timeout) as service:
            results = []
            for i in range(runs):
                result = run_strategy(resolved, rt, cache, st, service=service, device=device, timeout=timeout)
                results.append(result)
                progress(f"[{i + 1}/{runs}] {st.name}: ready {format_seconds(result['ready'])}, first vector "
                         f"{format_seconds(result['first_vector'])}, foreground × {result['foreground_slowdown']:.2f}")
        params = {"model": resolved.name, "runtime": rt.name, "cache": cache, "strategy": st.name}
        measurements += measurements_from_strategy_runs(results, params)
    found = window.close()
    conditions = summarize([found]) if found else None
    measurements = [dataclasses.replace(m, conditions=conditions) for m in measurements]
    report = evaluate(measurements, config=config, commit="(working tree)", machine=platform.node(),
                      fail_on=(), env={"EMBEDLOAD_DEVICE": device},
                      versions={"embedload": __version__}, source="profile")
    return Profile(report=report, document={}, gated=False)


def stage_imports(results: list[dict]) -> dict:
    """(model, runtime, cache) -> stage -> the modules it imported, from the first run of each (the
    same code imports the same modules in every run)."""
    out: dict = {}
    for run in results:
        key = (run["model"], run["runtime"], run["cache"])
        if key not in out:
            out[key] = {stage: entry["modules_added"] for stage, entry in run["stages"].items() if "modules_added" in entry}
    return out


def _save(document: dict, path: Path, force: bool) -> None:
    """Write the runs; if that fails now, keep them in a file of their own: measurements are never lost."""
    try:
        write_new_file(path, dump_json(document), force=force)
    except OutputError as exc:
        fd, kept = tempfile.mkstemp(prefix="embedload-profile-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump_json(document))
        raise OutputError(f"{exc}; the {len(document['runs'])} run(s) are kept in {kept}") from None


def profile_runs(models, runtime, cache: str, runs: int, *, timeout: float,
                 progress: Callable[[str], None] | None = None, drop_caches: bool = False) -> list[dict]:
    """``runs`` fresh-process probes for each resolved model, in order, with progress lines."""
    results = []
    total = runs * len(models)
    name = runtime if isinstance(runtime, str) else runtime.name
    for model in models:
        for _ in range(runs):
            result = run_probe(model, runtime, cache, timeout=timeout, drop_caches=drop_caches)
            results.append(result)
            if progress:
                s = result["stages"]
                res = result.get("residency")
                cold = f", {res['fraction_outside_harness']:.2%} resident at start" if res else ""
                progress(
                    f"[{len(results)}/{total}] {model.name} {name} {cache}: total {s['total']['seconds']:.2f} s "
                    f"(import {s['import']['seconds']:.2f}, init {s['init']['seconds']:.3f}, "
                    f"first encode {s['first_encode']['seconds']:.3f}{cold})"
                )
    return results


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

"""Saved profiles and probe runs as measurements: the results layer of ``embedload profile``.

A profile file (``schema: embedload.profile/1``) holds the probe runs of one ``embedload profile``.
Its runs become :class:`~embedload.results.asv_results.Measurement` lists named after the suite's benchmarks
(the catalog's), so the report, the targets and the regression rule are the gate's, and a saved
profile can be a gate baseline.
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path

from asv_runner.statistics import compute_stats

from embedload.base.catalog import (
    BENCHMARK_BY_STAGE,
    FIGURE_UNITS,
    PARTS,
    PROBE_BENCHMARKS,
    STRATEGY_BENCHMARKS,
    STRATEGY_TIMING,
)
from embedload.measure.probe import run_figures
from embedload.results.asv_results import Measurement, ResultsError, is_finite_number

SCHEMA = "embedload.profile/1"


def measurements_from_runs(runs: list[dict]) -> list[Measurement]:
    """Probe runs as the suite's measurements: per-run samples, asv's own statistics."""
    groups: dict[tuple, list[float]] = {}
    params: dict[tuple, dict] = {}

    def add(benchmark, p, value):
        key = (benchmark, tuple(p.items()))
        groups.setdefault(key, []).append(float(value))
        params[key] = p

    names = {**BENCHMARK_BY_STAGE, **{figure: name for name, figure in PROBE_BENCHMARKS.items()}}
    for run in runs:
        mrc = {"model": run["model"], "runtime": run["runtime"], "cache": run["cache"]}
        for figure, value in run_figures(run).items():
            if value is not None:
                add(names[figure], mrc, value)
    out = []
    for key, samples in groups.items():
        benchmark = key[0]
        value, stats = compute_stats(samples, 1)
        figure = PROBE_BENCHMARKS.get(benchmark)
        unit = "seconds" if figure is None else FIGURE_UNITS[figure]
        out.append(Measurement(benchmark=benchmark, params=params[key], value=value, unit=unit, status="ok",
                               stats=stats, samples=samples, env_name="profile",
                               env_vars={"EMBEDLOAD_DEVICE": runs[0]["device"]} if runs else {}))
    return out


def measurements_from_strategy_runs(runs: list[dict], params: dict[str, str]) -> list[Measurement]:
    """Strategy runs (``embedload.measure.strategy_runner.run_strategy``) as ``bench_strategy``'s measurements, with
    asv's own statistics, as :func:`measurements_from_runs` does for the stages."""
    out = []
    for benchmark, figure in (*STRATEGY_TIMING.items(), *STRATEGY_BENCHMARKS.items()):
        samples = [float(run[figure]) for run in runs if run.get(figure) is not None]
        if samples:
            value, stats = compute_stats(samples, 1)
            out.append(Measurement(benchmark=benchmark, params=dict(params), value=value,
                                   unit=FIGURE_UNITS.get(figure, "seconds"), status="ok", stats=stats,
                                   samples=samples, env_name="profile"))
    return out


def measurements_from_profile(data: dict, source: Path | str = "profile file") -> list[Measurement]:
    """A saved ``embedload profile --save-runs`` document as measurements; ResultsError if malformed."""
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ResultsError(f"{source} holds no runs (its 'runs' is {'empty' if runs == [] else 'missing or not a list'}); "
                           f"save a profile with `embedload profile --save-runs FILE`")
    for i, run in enumerate(runs, 1):
        problem = _run_problem(run)
        if problem:
            raise ResultsError(f"{source}: run {i} is not an embedload probe record ({problem}); "
                               f"save a profile with `embedload profile --save-runs FILE`")
    try:
        return measurements_from_runs(runs)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultsError(f"{source}: its runs are not embedload probe records ({type(exc).__name__}: {exc})") from None


def _run_problem(run) -> str | None:
    """What is wrong with one probe record, or None."""
    if not isinstance(run, dict):
        return f"a {type(run).__name__}, not an object"
    for key in ("model", "runtime", "cache", "device"):
        if not isinstance(run.get(key), str):
            return f"no string {key!r}"
    stages = run.get("stages")
    if not isinstance(stages, dict):
        return "no 'stages' object"
    for stage in (*PARTS, "total"):
        entry = stages.get(stage)
        if not isinstance(entry, dict):
            return f"no stage {stage!r}"
        for key in ("seconds", "peak_rss", "peak_increase"):
            value = entry.get(key)
            if key == "seconds" or value is not None:
                if not is_finite_number(value):
                    return f"stage {stage!r} has {key} {value!r}, not a finite number"
    growth = run.get("rss_growth")
    if not is_finite_number(growth):
        return f"rss_growth {growth!r} is not a finite number"
    return None


def profile_document(runs: list[dict], argv: list[str]) -> dict:
    first = runs[0]
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "platform": platform.platform(),
        "command": ["embedload", *argv],
        "device": first["device"],
        "python": first["python"],
        "versions": first["versions"],
        "runs": runs,
    }

"""One row per model/runtime/cache: stage timings and memory, from any source of measurements.

asv results and ``embedload profile`` runs both become :class:`~embedload.results.asv_results.Measurement`
lists named after the suite's benchmarks; this module folds those into :class:`LoadRow` for the
report, the targets and the recommendations. Nothing here knows where the numbers came from.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from embedload.base.catalog import (
    PARTS,
    PROBE_BENCHMARKS,
    STAGES,
    STRATEGY_BENCHMARKS,
    STRATEGY_TIMING,
    TIMING_BENCHMARKS,
    catalog_name,
)
from embedload.results.asv_results import Measurement


@dataclass
class StageStat:
    median: float
    samples: list[float] | None = None
    q25: float | None = None
    q75: float | None = None

    @property
    def n(self) -> int | None:
        return len(self.samples) if self.samples else None

    @property
    def half_iqr(self) -> float | None:
        return (self.q75 - self.q25) / 2 if self.q25 is not None and self.q75 is not None else None

    @property
    def low(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def high(self) -> float | None:
        return max(self.samples) if self.samples else None

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None

    @property
    def stdev(self) -> float | None:
        return statistics.stdev(self.samples) if self.samples and len(self.samples) > 1 else None

    @classmethod
    def from_measurement(cls, m: Measurement) -> StageStat:
        spread = m.spread()
        return cls(m.value, m.samples, *(spread or (None, None)))

    def as_dict(self) -> dict:
        return {
            "median": self.median, "q25": self.q25, "q75": self.q75, "mean": self.mean, "stdev": self.stdev,
            "min": self.low, "max": self.high, "n": self.n, "samples": self.samples,
        }


@dataclass
class LoadRow:
    model: str
    runtime: str
    cache: str
    #: The stack's key versions, set only when one commit's results come from several stacks.
    stack: str = ""
    timings: dict[str, StageStat] = field(default_factory=dict)
    #: peak_rss_<stage>, peak_increase_<stage>, rss_growth (bytes); steady_encode (seconds)
    probe: dict[str, float] = field(default_factory=dict)
    #: The strategy a loader names in [tool.embedload.suite] (eager, lazy, background, service).
    strategy: str | None = None

    @property
    def runtime_label(self) -> str:
        return f"{self.runtime} ({self.strategy})" if self.strategy else self.runtime

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.model, self.runtime, self.cache, self.stack

    @property
    def label(self) -> str:
        return f"{self.model} / {self.runtime_label} / {self.cache}" + (f" [{self.stack}]" if self.stack else "")

    def seconds(self, stage: str) -> float | None:
        stat = self.timings.get(stage)
        return stat.median if stat else None

    def complete(self) -> bool:
        return all(stage in self.timings for stage in STAGES)


def rows_from_measurements(measurements: list[Measurement], strategies: dict[str, str] | None = None) -> list[LoadRow]:
    """Rows for every model/runtime/cache with a measured figure; ``strategies`` names a loader's strategy."""
    rows: dict[tuple, LoadRow] = {}
    # Several stacks (asv environments) in one set: rows are told apart by stack.
    several = len({m.stack for m in measurements if m.status == "ok"}) > 1
    for m in measurements:
        if m.status != "ok":
            continue
        p = m.params
        key = (p.get("model"), p.get("runtime"), p.get("cache"), m.stack if several else "")
        if None in key:
            continue
        benchmark = catalog_name(m.benchmark)
        if benchmark in TIMING_BENCHMARKS:
            rows.setdefault(key, LoadRow(*key)).timings[TIMING_BENCHMARKS[benchmark]] = StageStat.from_measurement(m)
        elif benchmark in PROBE_BENCHMARKS:
            rows.setdefault(key, LoadRow(*key)).probe[PROBE_BENCHMARKS[benchmark]] = m.value
    for row in rows.values():
        row.strategy = (strategies or {}).get(row.runtime)
    return [rows[k] for k in sorted(rows)]


def stages_add_up(row: LoadRow) -> float | None:
    """(import + init + first_encode) / total for a row with all four medians."""
    if not row.complete():
        return None
    return sum(row.seconds(p) for p in PARTS) / row.seconds("total")


@dataclass
class StrategyRow:
    """An application's start-up under one load strategy (``bench_strategy``, ``profile --strategy``)."""

    model: str
    runtime: str
    cache: str
    strategy: str
    stack: str = ""
    #: ready, first_vector (seconds, with their samples)
    timings: dict[str, StageStat] = field(default_factory=dict)
    #: foreground_slowdown (ratio), app_peak_rss and server_rss (bytes)
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.model} / {self.runtime} / {self.cache} / {self.strategy}" + (f" [{self.stack}]" if self.stack else "")

    def seconds(self, figure: str) -> float | None:
        stat = self.timings.get(figure)
        return stat.median if stat else None


def strategy_rows(measurements: list[Measurement]) -> list[StrategyRow]:
    """One row per model/runtime/cache/strategy with a measured figure."""
    rows: dict[tuple, StrategyRow] = {}
    several = len({m.stack for m in measurements if m.status == "ok"}) > 1
    for m in measurements:
        benchmark = catalog_name(m.benchmark)
        if m.status != "ok" or (benchmark not in STRATEGY_TIMING and benchmark not in STRATEGY_BENCHMARKS):
            continue
        p = m.params
        key = (p.get("model"), p.get("runtime"), p.get("cache"), p.get("strategy"), m.stack if several else "")
        if None in key:
            continue
        row = rows.setdefault(key, StrategyRow(*key))
        if benchmark in STRATEGY_TIMING:
            row.timings[STRATEGY_TIMING[benchmark]] = StageStat.from_measurement(m)
        else:
            row.figures[STRATEGY_BENCHMARKS[benchmark]] = m.value
    return [rows[k] for k in sorted(rows)]

"""The one catalog of what the suite measures: stages, and each figure's asv benchmark and unit.

A leaf module. The asv suite (``benchmarks/``), the results reader, the rows, the profiler and
the tests all read it: adding a figure is one entry here plus its measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The stages one load goes through, in order; ``total`` times all three in one process.
PARTS = ("import", "init", "first_encode")
STAGES = PARTS + ("total",)

#: Timed stages as asv ``timeraw_`` benchmarks. The import does not depend on the model.
IMPORT_BENCHMARK = "bench_timing.Import.timeraw_import"
TIMING_BENCHMARKS = {
    IMPORT_BENCHMARK: "import",
    "bench_timing.Load.timeraw_init": "init",
    "bench_timing.Load.timeraw_first_encode": "first_encode",
    "bench_timing.Load.timeraw_total": "total",
}
BENCHMARK_BY_STAGE = {stage: name for name, stage in TIMING_BENCHMARKS.items()}


@dataclass(frozen=True)
class Figure:
    """A figure the probe measures in a fresh child, tracked as an asv ``track_`` benchmark."""

    name: str
    benchmark: str
    unit: str  # asv's unit: bytes, seconds, cosine


PROBE_FIGURES = (
    *(Figure(f"peak_rss_{s}", f"bench_probe.Memory.track_peak_rss_{s}", "bytes") for s in STAGES),
    *(Figure(f"peak_increase_{s}", f"bench_probe.Memory.track_peak_increase_{s}", "bytes") for s in ("init", "first_encode")),
    Figure("rss_growth", "bench_probe.Memory.track_rss_growth_total", "bytes"),
    Figure("steady_encode", "bench_probe.Encode.track_steady_encode", "seconds"),
    Figure("vector_cosine", "bench_probe.Check.track_vector_cosine", "cosine"),
)
PROBE_BENCHMARKS = {f.benchmark: f.name for f in PROBE_FIGURES}
FIGURE_UNITS = {f.name: f.unit for f in PROBE_FIGURES}

#: An application's start-up under each load strategy (``embedload.strategies``): timed in fresh
#: interpreters (``timeraw_``), and its cost and memory from the strategy probe (``track_``).
STRATEGY_TIMING = {
    "bench_strategy.Strategy.timeraw_ready": "ready",
    "bench_strategy.Strategy.timeraw_first_vector": "first_vector",
}
STRATEGY_FIGURES = (
    Figure("foreground_slowdown", "bench_strategy.StrategyCost.track_foreground_slowdown", "ratio"),
    Figure("app_peak_rss", "bench_strategy.StrategyCost.track_app_peak_rss", "bytes"),
    Figure("server_rss", "bench_strategy.ServiceMemory.track_server_rss", "bytes"),
)
STRATEGY_BENCHMARKS = {f.benchmark: f.name for f in STRATEGY_FIGURES}
FIGURE_UNITS.update({f.name: f.unit for f in STRATEGY_FIGURES})

#: The module ``embedload init`` writes in an application's suite: the same classes, so the same
#: figures (``bench_embedload.Load.timeraw_total`` is ``bench_timing.Load.timeraw_total``).
APP_MODULE = "bench_embedload"


def catalog_name(benchmark: str) -> str:
    """The catalog's name of ``benchmark``: an application suite's names mapped to embedload's own."""
    module, _, rest = benchmark.partition(".")
    if module != APP_MODULE:
        return benchmark
    for name in (*TIMING_BENCHMARKS, *PROBE_BENCHMARKS, *STRATEGY_TIMING, *STRATEGY_BENCHMARKS):
        if name.partition(".")[2] == rest:
            return name
    return benchmark

"""The one catalog of what the suite measures: stages, and each figure's asv benchmark and unit.

A leaf module. The asv suite (``benchmarks/``), the results reader, the rows, the profiler and
the tests all read it: adding a figure is one entry here plus its measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The stages one load goes through, in order; ``total`` spans all three in the same process.
PARTS = ("import", "init", "first_encode")
STAGES = PARTS + ("total",)

#: Every figure of a load comes from the same fresh interpreters (docs/measurement.md, "One
#: sample"), tracked as asv ``track_`` benchmarks that return their samples.
TIMING_BENCHMARKS = {f"bench_load.Stages.track_{stage}": stage for stage in STAGES}
BENCHMARK_BY_STAGE = {stage: name for name, stage in TIMING_BENCHMARKS.items()}
IMPORT_BENCHMARK = BENCHMARK_BY_STAGE["import"]


@dataclass(frozen=True)
class Figure:
    """A figure of one load besides the stages' times, tracked as an asv ``track_`` benchmark."""

    name: str
    benchmark: str
    unit: str  # asv's unit: bytes, seconds, cosine


PROBE_FIGURES = (
    *(Figure(f"peak_rss_{s}", f"bench_load.Memory.track_peak_rss_{s}", "bytes") for s in STAGES),
    *(Figure(f"peak_increase_{s}", f"bench_load.Memory.track_peak_increase_{s}", "bytes") for s in ("init", "first_encode")),
    Figure("rss_growth", "bench_load.Memory.track_rss_growth_total", "bytes"),
    Figure("steady_encode", "bench_load.Encode.track_steady_encode", "seconds"),
    Figure("vector_cosine", "bench_load.Check.track_vector_cosine", "cosine"),
)
PROBE_BENCHMARKS = {f.benchmark: f.name for f in PROBE_FIGURES}
FIGURE_UNITS = {f.name: f.unit for f in PROBE_FIGURES}

#: The design before one load per sample (its last commit: ``BEFORE_ONE_LOAD_COMMIT``): each stage
#: timed in fresh interpreters of its own (asv ``timeraw_``), the import once per runtime and cache
#: for every model, memory from three more loads as one median. Its names, and today's figure of the
#: same stage; the two are not one series (docs/asv.md, "Before one load per sample").
BEFORE_ONE_LOAD = {
    "bench_timing.Import.timeraw_import": IMPORT_BENCHMARK,
    **{f"bench_timing.Load.timeraw_{s}": BENCHMARK_BY_STAGE[s] for s in ("init", "first_encode", "total")},
    **{f.benchmark.replace("bench_load.", "bench_probe."): f.benchmark for f in PROBE_FIGURES},
    "bench_strategy.Strategy.timeraw_ready": "bench_strategy.Strategy.track_ready",
    "bench_strategy.Strategy.timeraw_first_vector": "bench_strategy.Strategy.track_first_vector",
}
BEFORE_ONE_LOAD_COMMIT = "61b3e01"

#: An application's start-up under each load strategy (``embedload.measure.strategies``): every figure of a
#: sample from the same strategy run (``embedload.measure.strategy_runner.run_strategy``).
STRATEGY_TIMING = {
    "bench_strategy.Strategy.track_ready": "ready",
    "bench_strategy.Strategy.track_first_vector": "first_vector",
}
STRATEGY_FIGURES = (
    Figure("foreground_slowdown", "bench_strategy.StrategyCost.track_foreground_slowdown", "ratio"),
    Figure("app_peak_rss", "bench_strategy.StrategyCost.track_app_peak_rss", "bytes"),
    Figure("server_rss", "bench_strategy.ServiceMemory.track_server_rss", "bytes"),
)
STRATEGY_BENCHMARKS = {f.benchmark: f.name for f in STRATEGY_FIGURES}
FIGURE_UNITS.update({f.name: f.unit for f in STRATEGY_FIGURES})

#: The module ``embedload init`` writes in an application's suite: the same classes, so the same
#: figures (``bench_embedload.Stages.track_total`` is ``bench_load.Stages.track_total``).
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


def before_one_load(benchmark: str) -> str | None:
    """Today's name of a benchmark of the design before one load per sample (None: it is not one)."""
    module, _, rest = benchmark.partition(".")
    for old, new in BEFORE_ONE_LOAD.items():
        if benchmark == old or (module == APP_MODULE and old.partition(".")[2] == rest):
            return new if module != APP_MODULE else f"{APP_MODULE}.{new.partition('.')[2]}"
    return None

"""Figures the probe measures in a fresh child, tracked with asv ``track_`` benchmarks.

Memory (unit bytes) is not asv's ``peakmem_``: that is the benchmark process's own high-water
mark, setup included, and on Linux ``ru_maxrss`` is inherited across fork and exec. The probe
reads the child's VmHWM after resetting it at each stage's start, so a stage's peak is its own.

One ``setup_cache`` (shared by both classes: asv keys it by the function) runs the probe
``PROBE_RUNS`` times for every measurable combination; each ``track_`` reads one median.
"""

import statistics

from embedload.probe import ProbeError, run_probe
from embedload.runtimes import NotAvailable

from . import common

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


def _key(model, runtime, cache):
    return f"{model}|{runtime}|{cache}"


try:  # the catalog: one list of figures for the suite, the results reader and the profiler
    from embedload.catalog import PROBE_FIGURES

    FIGURES = tuple(f.name for f in PROBE_FIGURES)
except ImportError:  # an embedload before the catalog: the figures it knew
    FIGURES = (
        *(f"peak_rss_{s}" for s in ("import", "init", "first_encode", "total")),
        *(f"peak_increase_{s}" for s in ("init", "first_encode")),
        "rss_growth", "steady_encode", "vector_cosine",
    )


def probe_all_combinations():
    figures = {}
    for model in common.MODELS:
        for runtime in common.RUNTIMES:
            for cache in common.CACHES:
                key = _key(model, runtime, cache)
                try:
                    common.measurable(runtime, cache)
                    resolved = common.resolve(model)
                    runs = [run_probe(resolved, runtime, cache) for _ in range(PROBE_RUNS)]
                    values = {name: [v for v in (probe_figure(run, name) for run in runs) if v is not None]
                              for name in FIGURES}
                except NotAvailable as exc:
                    figures[key] = {"skip": str(exc)}
                    continue
                except ProbeError as exc:
                    figures[key] = {"error": f"{exc}\n{exc.stderr[-4000:]}"}
                    continue
                except RuntimeError as exc:  # e.g. prepare.CheckFailed: it computes something else
                    figures[key] = {"error": f"{type(exc).__name__}: {exc}"}
                    continue
                figures[key] = {name: statistics.median(v) for name, v in values.items() if v}
    return figures


probe_all_combinations.timeout = 1800


class _FromProbe:
    params = (common.MODELS, common.RUNTIMES, common.CACHES)
    param_names = ["model", "runtime", "cache"]
    timeout = 120
    setup_cache = staticmethod(probe_all_combinations)

    def setup(self, figures, model, runtime, cache):
        with common.recorded(self, (model, runtime, cache)):
            self.figures = figures[_key(model, runtime, cache)]
            if "skip" in self.figures:
                raise NotAvailable(self.figures["skip"])
            if "error" in self.figures:
                raise RuntimeError(self.figures["error"])


class Memory(_FromProbe):
    """Peak RSS within each stage, what init and first_encode add at their peak, RSS growth."""

    unit = "bytes"

    def track_peak_rss_import(self, figures, model, runtime, cache):
        return self.figures["peak_rss_import"]

    def track_peak_rss_init(self, figures, model, runtime, cache):
        return self.figures["peak_rss_init"]

    def track_peak_rss_first_encode(self, figures, model, runtime, cache):
        return self.figures["peak_rss_first_encode"]

    def track_peak_rss_total(self, figures, model, runtime, cache):
        return self.figures["peak_rss_total"]

    def track_peak_increase_init(self, figures, model, runtime, cache):
        return self.figures["peak_increase_init"]

    def track_peak_increase_first_encode(self, figures, model, runtime, cache):
        return self.figures["peak_increase_first_encode"]

    def track_rss_growth_total(self, figures, model, runtime, cache):
        return self.figures["rss_growth"]


class Encode(_FromProbe):
    """Steady-state encode: median of five encodes after the first, so warm-up cost shows."""

    unit = "seconds"

    def track_steady_encode(self, figures, model, runtime, cache):
        return self.figures["steady_encode"]


class Check(_FromProbe):
    """Same output or it doesn't count: the first vector's cosine with st-torch's, per runtime."""

    unit = "cosine"

    def setup(self, figures, model, runtime, cache):
        super().setup(figures, model, runtime, cache)
        if "vector_cosine" not in self.figures:  # a skip is only a skip when raised in setup
            with common.recorded(self, (model, runtime, cache)):
                raise NotAvailable("st-torch is the reference the other runtimes' vectors are checked against")

    def track_vector_cosine(self, figures, model, runtime, cache):
        return self.figures["vector_cosine"]

"""Figures the probe measures in a fresh child, tracked with asv ``track_`` benchmarks.

Memory (unit bytes) is not asv's ``peakmem_``: that is the benchmark process's own high-water
mark, setup included, and on Linux ``ru_maxrss`` is inherited across fork and exec. The probe
reads the child's VmHWM after resetting it at each stage's start, so a stage's peak is its own.

One ``setup_cache`` (shared by the classes: asv keys it by the function) runs the probe
``PROBE_RUNS`` times for every measurable combination (``embedload.harness``); each ``track_``
reads one median. The figures are the catalog's (``embedload.catalog``).
"""

from . import common


class _FromProbe:
    params = (common.MODELS, common.RUNTIMES, common.CACHES)
    param_names = ["model", "runtime", "cache"]
    timeout = 120
    setup_cache = staticmethod(common.probe_all_combinations)

    def setup(self, figures, model, runtime, cache):
        with common.recorded(self, (model, runtime, cache)):
            self.figures = figures[common.probe_key(model, runtime, cache)]
            if "skip" in self.figures:
                raise common.NotAvailable(self.figures["skip"])
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
                raise common.NotAvailable("st-torch is the reference the other runtimes' vectors are checked against")

    def track_vector_cosine(self, figures, model, runtime, cache):
        return self.figures["vector_cosine"]


FIGURES = common.FIGURES

"""Memory of each load stage, in bytes, measured by the probe in a fresh child (asv ``track_``).

Not asv's ``peakmem_``: that is the benchmark process's own high-water mark, setup included, and
on Linux ``ru_maxrss`` is inherited across fork and exec. The probe reads the child's VmHWM after
resetting it at each stage's start, so a stage's peak is its own.

``setup_cache`` runs the probe once for every measurable combination (median of
``PROBE_RUNS`` fresh processes); each ``track_`` then reads one figure.
"""

import statistics

from embedload.probe import ProbeError, run_probe
from embedload.runtimes import NotAvailable

from . import common

PROBE_RUNS = 3


def _key(model, runtime, cache):
    return f"{model}|{runtime}|{cache}"


class Memory:
    params = (common.MODELS, common.RUNTIMES, common.CACHES)
    param_names = ["model", "runtime", "cache"]
    unit = "bytes"
    timeout = 120

    def setup_cache(self):
        figures = {}
        for model in common.MODELS:
            for runtime in common.RUNTIMES:
                for cache in common.CACHES:
                    key = _key(model, runtime, cache)
                    try:
                        common.measurable(runtime, cache)
                        resolved = common.resolve(model)
                        runs = [run_probe(resolved, runtime, cache) for _ in range(PROBE_RUNS)]
                    except NotAvailable as exc:
                        figures[key] = {"skip": str(exc)}
                        continue
                    except ProbeError as exc:
                        figures[key] = {"error": f"{exc}\n{exc.stderr[-4000:]}"}
                        continue
                    figures[key] = {
                        name: statistics.median(getter(run) for run in runs)
                        for name, getter in _FIGURES.items()
                    }
        return figures

    setup_cache.timeout = 1800

    def setup(self, figures, model, runtime, cache):
        with common.recorded(self, (model, runtime, cache)):
            self.figures = figures[_key(model, runtime, cache)]
            if "skip" in self.figures:
                raise NotAvailable(self.figures["skip"])
            if "error" in self.figures:
                raise RuntimeError(self.figures["error"])

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


_FIGURES = {
    **{f"peak_rss_{stage}": (lambda run, s=stage: run["stages"][s]["peak_rss"]) for stage in ("import", "init", "first_encode", "total")},
    **{f"peak_increase_{stage}": (lambda run, s=stage: run["stages"][s]["peak_increase"]) for stage in ("init", "first_encode")},
    "rss_growth": lambda run: run["rss_growth"],
}

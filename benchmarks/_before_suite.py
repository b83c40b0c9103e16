"""The benchmark classes as the suite carried them before ``embedload.suite`` existed (docs/asv.md).

Used by ``common.py``, with ``_before_harness.py``, only when the embedload being measured has no
``embedload.suite``. Keep it as it is; delete both when make gate no longer needs commits that
old. Each class name starts with an underscore so that asv does not collect it here: the
benchmark modules subclass it (through ``common.suite``) with their params.
"""

from . import common

runtimes = common.runtimes


class _Stage:
    env = runtimes.OFFLINE_ENV
    number = common.TIMING["number"]
    repeat = common.TIMING["repeat"]
    rounds = common.TIMING["rounds"]
    warmup_time = common.TIMING["warmup_time"]
    timeout = common.TIMING["timeout"]

    def _prepare(self, runtime, cache, model=None):
        self.runtime = common.measurable(runtime, cache)
        self.model = common.loaded_folder(common.resolve(model), self.runtime) if model else None
        self.params_label = "|".join(filter(None, [model, runtime, cache]))
        self.cold = cache == "cold"
        path = self.model.path.as_posix() if self.model is not None else None
        device = runtimes.device_from_env()
        if self.cold:
            self.make_cold = common.make_cold_sources(self.runtime, path, device, type(self).__name__ + "|" + self.params_label)
        else:
            common.make_warm(self.runtime, path, device)

    def _source(self, stage):
        path = self.model.path.as_posix() if self.model is not None else None
        device = runtimes.device_from_env()
        if not self.cold:
            return runtimes.timeraw_source(self.runtime, stage, path, device)
        return runtimes.timeraw_source(self.runtime, stage, path, device, self.make_cold[stage])


class _Import(_Stage):
    """``from sentence_transformers import SentenceTransformer`` (or the runtime's import)."""

    param_names = ["runtime", "cache"]

    def setup(self, runtime, cache):
        with common.recorded(self, (runtime, cache)):
            self._prepare(runtime, cache)

    def timeraw_import(self, runtime, cache):
        return self._source("import")


class _Load(_Stage):
    """Constructing the model, its first encode, and the whole load timed as one."""

    param_names = ["model", "runtime", "cache"]

    def setup(self, model, runtime, cache):
        with common.recorded(self, (model, runtime, cache)):
            self._prepare(runtime, cache, model)

    def timeraw_init(self, model, runtime, cache):
        return self._source("init")

    def timeraw_first_encode(self, model, runtime, cache):
        return self._source("first_encode")

    def timeraw_total(self, model, runtime, cache):
        return self._source("total")


class _FromProbe:
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


class _Memory(_FromProbe):
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


class _Encode(_FromProbe):
    """Steady-state encode: median of five encodes after the first, so warm-up cost shows."""

    unit = "seconds"

    def track_steady_encode(self, figures, model, runtime, cache):
        return self.figures["steady_encode"]


class _Check(_FromProbe):
    """Same output or it doesn't count: the first vector's cosine with st-torch's, per runtime."""

    unit = "cosine"

    def setup(self, figures, model, runtime, cache):
        super().setup(figures, model, runtime, cache)
        if "vector_cosine" not in self.figures:  # a skip is only a skip when raised in setup
            with common.recorded(self, (model, runtime, cache)):
                raise common.NotAvailable("st-torch is the reference the other runtimes' vectors are checked against")

    def track_vector_cosine(self, figures, model, runtime, cache):
        return self.figures["vector_cosine"]


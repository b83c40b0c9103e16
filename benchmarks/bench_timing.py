"""Wall time of each load stage, each sample in a fresh interpreter (asv ``timeraw_``).

The timed statement and the untimed setup come from ``embedload.runtimes.timeraw_source``;
the stages before the timed one run in the setup, in the same fresh interpreter. For
``cache=warm`` the benchmark's setup first reads every file the stages read; for
``cache=cold`` the setup string ends by evicting the files the timed stage reads (``embedload.pagecache``)
and fails the sample, so that no number is recorded, if more than 1% of their bytes stay resident.
"""

from . import common

# Imported as a module: asv would collect a bare ``timeraw_source`` as a benchmark.
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


class Import(_Stage):
    """``from sentence_transformers import SentenceTransformer`` (or the runtime's import)."""

    params = (common.RUNTIMES, common.CACHES)
    param_names = ["runtime", "cache"]

    def setup(self, runtime, cache):
        with common.recorded(self, (runtime, cache)):
            self._prepare(runtime, cache)

    def timeraw_import(self, runtime, cache):
        return self._source("import")


class Load(_Stage):
    """Constructing the model, its first encode, and the whole load timed as one."""

    params = (common.MODELS, common.RUNTIMES, common.CACHES)
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

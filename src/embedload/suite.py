"""The suite's benchmark classes: each stage timed in a fresh interpreter, the probe's figures tracked.

A suite subclasses them and sets ``params``: embedload's own (``benchmarks/bench_timing.py``,
``benchmarks/bench_probe.py``) over its models x runtimes x cache states, an application's
(``embedload init`` writes ``benchmarks/bench_embedload.py``) over the loaders of its
``[tool.embedload.suite]`` (:func:`embedload.harness.configure`).

**Timing** (asv ``timeraw_``): the timed statement and the untimed setup come from
``embedload.runtimes.timeraw_source``; the stages before the timed one run in the setup, in the
same fresh interpreter. For ``cache=warm`` the benchmark's setup first reads every file the stages
read; for ``cache=cold`` the setup string ends by evicting the files the timed stage reads
(``embedload.pagecache``) and fails the sample, so that no number is recorded, if more than 1% of
their bytes stay resident.

**Figures** (asv ``track_``): memory (unit bytes) is not asv's ``peakmem_``: that is the
benchmark process's own high-water mark, setup included, and on Linux ``ru_maxrss`` is inherited
across fork and exec. The probe reads the child's VmHWM after resetting it at each stage's start,
so a stage's peak is its own. The classes share one ``setup_cache`` (asv keys it by the function):
the first ``track_`` of a combination runs the probe ``PROBE_RUNS`` times, and each ``track_``
reads one median (``embedload.harness.OnFirstUse``: only the combinations a run selected are
probed). The figures are the catalog's (``embedload.catalog``).

The names start with an underscore where asv would otherwise collect a base class as a benchmark.
"""

from . import conditions, runtimes, strategies
from . import harness as common


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
        # what else the machine does while the samples run (a model server they talk to is not "else")
        service = getattr(self, "service", None)
        self._window = conditions.Window.open(also=(service.process.pid,) if service is not None else ())

    def teardown(self, *params):
        if getattr(self, "_window", None) is not None:
            conditions.record(common.benchmark_class_name(self), params, self._window)

    def _source(self, stage):
        path = self.model.path.as_posix() if self.model is not None else None
        device = runtimes.device_from_env()
        if not self.cold:
            return runtimes.timeraw_source(self.runtime, stage, path, device)
        return runtimes.timeraw_source(self.runtime, stage, path, device, self.make_cold[stage])


class Import(_Stage):
    """``from sentence_transformers import SentenceTransformer`` (or the runtime's import)."""

    param_names = ["runtime", "cache"]

    def setup(self, runtime, cache):
        with common.recorded(self, (runtime, cache)):
            self._prepare(runtime, cache)

    def timeraw_import(self, runtime, cache):
        return self._source("import")


class Load(_Stage):
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


#: A figure's time limit: the first of a combination runs its probes (each child has 300 s).
FIRST_USE_TIMEOUT = 1800


class _FromProbe:
    param_names = ["model", "runtime", "cache"]
    timeout = FIRST_USE_TIMEOUT
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


class Strategy(_Stage):
    """An application's start-up under a load strategy: until ready, and until its first vector.

    Timed from the start-up's first statement in a fresh interpreter (``embedload.strategies``);
    for ``service`` the model server is started here, before the samples and outside them.
    """

    param_names = ["model", "runtime", "cache", "strategy"]

    def setup(self, model, runtime, cache, strategy):
        with common.recorded(self, (model, runtime, cache, strategy)):
            self.strategy = common.check_strategy(strategy, cache)
            self.service = None
            if self.strategy.server:  # started (and its CPU spent) before the conditions window opens
                rt = common.measurable(runtime, cache)
                folder = common.loaded_folder(common.resolve(model), rt)
                self.service = common.start_service(rt, folder.path.as_posix(), runtimes.device_from_env())
            try:
                self._prepare(runtime, cache, model)
            except BaseException:
                self.teardown()
                raise

    def teardown(self, *params):
        if params:
            super().teardown(*params)
        if getattr(self, "service", None) is not None:
            self.service.stop()
            self.service = None

    def _strategy_source(self, figure):
        path = self.model.path.as_posix()
        socket = self.service.socket_path if self.service is not None else None
        make_cold = self.make_cold["total"] if self.cold else ""
        return strategies.timeraw_source(self.strategy, self.runtime, figure, path, runtimes.device_from_env(),
                                         socket, make_cold)

    def timeraw_ready(self, model, runtime, cache, strategy):
        return self._strategy_source("ready")

    def timeraw_first_vector(self, model, runtime, cache, strategy):
        return self._strategy_source("first_vector")


class _FromStrategyRuns:
    param_names = ["model", "runtime", "cache", "strategy"]
    timeout = FIRST_USE_TIMEOUT
    setup_cache = staticmethod(common.strategy_all_combinations)

    def setup(self, figures, model, runtime, cache, strategy):
        with common.recorded(self, (model, runtime, cache, strategy)):
            self.figures = figures[common.strategy_key(model, runtime, cache, strategy)]
            if "skip" in self.figures:
                raise common.NotAvailable(self.figures["skip"])
            if "error" in self.figures:
                raise RuntimeError(self.figures["error"])


class StrategyCost(_FromStrategyRuns):
    """The foreground task's slowdown right after ready (x its time alone), and the application's peak RSS."""

    def track_foreground_slowdown(self, figures, model, runtime, cache, strategy):
        return self.figures["foreground_slowdown"]

    track_foreground_slowdown.unit = "ratio"

    def track_app_peak_rss(self, figures, model, runtime, cache, strategy):
        return self.figures["app_peak_rss"]

    track_app_peak_rss.unit = "bytes"


class ServiceMemory(_FromStrategyRuns):
    """The model server's RSS, counted once however many clients connect (``service`` only)."""

    unit = "bytes"

    def setup(self, figures, model, runtime, cache, strategy):
        super().setup(figures, model, runtime, cache, strategy)
        if "server_rss" not in self.figures:
            with common.recorded(self, (model, runtime, cache, strategy)):
                raise common.NotAvailable(f"{strategy} runs no model server")

    def track_server_rss(self, figures, model, runtime, cache, strategy):
        return self.figures["server_rss"]

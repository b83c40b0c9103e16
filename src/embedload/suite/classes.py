"""The suite's benchmark classes: every figure of a load from the same fresh interpreters.

A suite subclasses them and sets ``params``: embedload's own (``benchmarks/bench_load.py``,
``benchmarks/bench_strategy.py``) over its models x runtimes x cache states, an application's
(``embedload init`` writes ``benchmarks/bench_embedload.py``) over the loaders of its
``[tool.embedload.suite]`` (:func:`embedload.suite.harness.configure`).

**One sample** is one fresh interpreter, the probe's measuring child (``embedload.measure.probe``): it
runs the import, the init and the first encode in order, times each and reads each one's peak
RSS (VmHWM reset at the stage's start), then the steady encodes; the total is the span from the
import's start to the first encode's end. For ``cache=cold`` every file the whole load reads is
evicted before the interpreter's first stage, and the sample fails, so that no number is
recorded, if more than 1% of their bytes stay resident (docs/cold-start.md). For ``cache=warm``
the same files are read into the page cache first.

**Every figure is an asv ``track_`` benchmark that returns its samples** (``{"samples": [...],
"number": 1}``), so ``asv compare``, the gate and ``asv publish`` see samples of every figure,
memory included. The classes share one ``setup_cache`` (asv keys it by the function): in each
round the first figure of a combination measures ``SAMPLES_PER_ROUND`` interpreters and the
others read them (``embedload.suite.harness.Samples``). asv runs a ``track_`` benchmark for one round
unless the command line says ``-a rounds=N`` (``make bench``: 4, ``make gate``: 10).

Memory is not asv's ``peakmem_``: that is the benchmark process's own high-water mark, setup
included, and on Linux ``ru_maxrss`` is inherited across fork and exec.

The names start with an underscore where asv would otherwise collect a base class as a benchmark.
"""

from embedload.base.children import OFFLINE_ENV

# asv hashes the source of each benchmark's setup and setup_cache into its version, and drops a
# result of another version from `asv publish` and `asv compare`: these methods keep the text they
# were measured with (`common.`), so the history stays one series.
from embedload.suite import harness as common


class _FromSamples:
    env = OFFLINE_ENV
    timeout = common.TIMEOUT
    setup_cache = staticmethod(common.load_samples)
    param_names = ["model", "runtime", "cache"]

    def setup(self, samples, model, runtime, cache):
        self.key = common.load_key(model, runtime, cache)
        with common.recorded(self, (model, runtime, cache)):
            self.checked = common.checked(samples, self.key, lambda: common.check_load(model, runtime, cache))

    def _take(self, samples, figure):
        return samples.take(self.key, figure, common.benchmark_class_name(self))


class Stages(_FromSamples):
    """Each stage's wall time, and the whole load's (the import's start to the first encode's end)."""

    unit = "seconds"

    def track_import(self, samples, model, runtime, cache):
        return self._take(samples, "import")

    def track_init(self, samples, model, runtime, cache):
        return self._take(samples, "init")

    def track_first_encode(self, samples, model, runtime, cache):
        return self._take(samples, "first_encode")

    def track_total(self, samples, model, runtime, cache):
        return self._take(samples, "total")


class Memory(_FromSamples):
    """Peak RSS within each stage, what init and first_encode add at their peak, RSS growth."""

    unit = "bytes"

    def track_peak_rss_import(self, samples, model, runtime, cache):
        return self._take(samples, "peak_rss_import")

    def track_peak_rss_init(self, samples, model, runtime, cache):
        return self._take(samples, "peak_rss_init")

    def track_peak_rss_first_encode(self, samples, model, runtime, cache):
        return self._take(samples, "peak_rss_first_encode")

    def track_peak_rss_total(self, samples, model, runtime, cache):
        return self._take(samples, "peak_rss_total")

    def track_peak_increase_init(self, samples, model, runtime, cache):
        return self._take(samples, "peak_increase_init")

    def track_peak_increase_first_encode(self, samples, model, runtime, cache):
        return self._take(samples, "peak_increase_first_encode")

    def track_rss_growth_total(self, samples, model, runtime, cache):
        return self._take(samples, "rss_growth")


class Encode(_FromSamples):
    """Steady-state encode: median of five encodes after the first, so warm-up cost shows."""

    unit = "seconds"

    def track_steady_encode(self, samples, model, runtime, cache):
        return self._take(samples, "steady_encode")


class Check(_FromSamples):
    """Same output or it doesn't count: the first vector's cosine with st-torch's, per runtime."""

    unit = "cosine"

    def setup(self, samples, model, runtime, cache):
        super().setup(samples, model, runtime, cache)
        if self.checked["reference"]:
            with common.recorded(self, (model, runtime, cache)):
                raise common.NotAvailable("st-torch is the reference the other runtimes' vectors are checked against")

    def track_vector_cosine(self, samples, model, runtime, cache):
        return self._take(samples, "vector_cosine")


class _FromStrategyRuns(_FromSamples):
    """An application's start-up under a load strategy: each sample one run (``embedload.measure.strategy_runner``).

    For ``service`` the model server is started once per round, before its runs and outside them.
    """

    param_names = ["model", "runtime", "cache", "strategy"]
    setup_cache = staticmethod(common.strategy_samples)

    def setup(self, samples, model, runtime, cache, strategy):
        self.key = common.strategy_key(model, runtime, cache, strategy)
        with common.recorded(self, (model, runtime, cache, strategy)):
            self.checked = common.checked(samples, self.key,
                                          lambda: common.check_strategy_run(model, runtime, cache, strategy))


class Strategy(_FromStrategyRuns):
    """Until ready (a request that needs no embedding can be served), and until the first vector."""

    unit = "seconds"

    def track_ready(self, samples, model, runtime, cache, strategy):
        return self._take(samples, "ready")

    def track_first_vector(self, samples, model, runtime, cache, strategy):
        return self._take(samples, "first_vector")


class StrategyCost(_FromStrategyRuns):
    """The foreground task's slowdown right after ready (x its time alone), and the application's peak RSS."""

    def track_foreground_slowdown(self, samples, model, runtime, cache, strategy):
        return self._take(samples, "foreground_slowdown")

    track_foreground_slowdown.unit = "ratio"

    def track_app_peak_rss(self, samples, model, runtime, cache, strategy):
        return self._take(samples, "app_peak_rss")

    track_app_peak_rss.unit = "bytes"


class ServiceMemory(_FromStrategyRuns):
    """The model server's RSS, counted once however many clients connect (``service`` only)."""

    unit = "bytes"

    def setup(self, samples, model, runtime, cache, strategy):
        super().setup(samples, model, runtime, cache, strategy)
        if not self.checked["server"]:
            with common.recorded(self, (model, runtime, cache, strategy)):
                raise common.NotAvailable(f"{strategy} runs no model server")

    def track_server_rss(self, samples, model, runtime, cache, strategy):
        return self._take(samples, "server_rss")

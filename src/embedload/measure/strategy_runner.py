"""An application's start-up under a load strategy, measured in fresh processes.

One run of :func:`run_strategy` is two fresh interpreters running the strategy's source
(:mod:`embedload.measure.strategies`); each run is one sample of every figure of ``bench_strategy``:

- *timing*: ``ready`` (start-up until the application can serve a request that needs no
  embedding) and ``first_vector`` (until its first embedding), from the process's first
  statement, and the process's peak RSS at the end (its memory per application process);
- *foreground*: the fixed foreground task timed right after ready and again once the first
  vector is out; ``foreground_slowdown`` is their ratio, what the load costs the application's
  own work while it competes for the GIL and the cores.

For ``service`` the model server is started once, outside both (:func:`running_service`), and
its RSS is read after the runs: counted once, however many clients connect.
With ``cache="cold"`` every file the load reads is evicted just before each child's timed code
(the same eviction and residency check as the stage benchmarks).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from embedload.base.catalog import STRATEGY_BENCHMARKS, STRATEGY_TIMING
from embedload.base.children import ChildTimeout, child_environ, describe_exit, kill_group, run_child
from embedload.measure.pagecache import DiscoveryError, helper_source, make_warm, stage_files, write_file_list
from embedload.measure.probe import ProbeError
from embedload.measure.runtime_folders import model_for
from embedload.measure.runtimes import QUICK_EXIT, NotAvailable, Runtime, bindings, check_measurable, device_from_env
from embedload.measure.strategies import FOREGROUND_SECONDS, FOREGROUND_SOURCE, Strategy, get_strategy, service_bindings
from embedload.models.registry import ResolvedModel

_SERVICE_CHILD = Path(__file__).with_name("_service_child.py")
#: Figures of one strategy run: the catalog's names (``bench_strategy``'s benchmarks).
RUN_FIGURES = (*STRATEGY_TIMING.values(), *STRATEGY_BENCHMARKS.values())


def check_strategy(strategy: str | Strategy, cache: str) -> Strategy:
    """The strategy, or :class:`NotAvailable` with a one-line reason."""
    try:
        st = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    except ValueError as exc:
        raise NotAvailable(str(exc)) from None
    if st.server and cache == "cold":
        raise NotAvailable("service: the server keeps the model in memory, so a cold page cache does not apply "
                           "to it; measured warm")
    return st


@dataclass
class Service:
    """A running model server: its process, socket and folder (removed by :meth:`stop`)."""

    process: subprocess.Popen
    socket_path: str
    workdir: str

    def rss(self) -> int:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self) -> None:
        kill_group(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                stream and stream.close()
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)


def start_service(runtime: Runtime, model_path: str, device: str, *, python: str | None = None,
                  timeout: float = 300) -> Service:
    """Start the model server and wait until it has loaded, encoded once and listens."""
    workdir = tempfile.mkdtemp(prefix="embedload-service-")
    socket_path = os.path.join(workdir, "model.sock")
    spec = {
        "bindings": bindings(model_path, device),
        "load": runtime.code("import") + "\n" + runtime.code("init"),
        "encode": runtime.code("first_encode"),
        "socket": socket_path,
        "parent": os.getpid(),
    }
    proc = subprocess.Popen([python or sys.executable, "-c", _SERVICE_CHILD.read_text(encoding="utf-8")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=workdir, env=child_environ(), start_new_session=True)
    service = Service(proc, socket_path, workdir)
    try:
        proc.stdin.write(json.dumps(spec) + "\n")
        proc.stdin.flush()
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise ProbeError(f"the model service did not start within {timeout:g} s")
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.wait(timeout=10)
            stderr = proc.stderr.read()
            raise ProbeError(f"the model service failed to start ({describe_exit(proc.returncode)})", stderr)
    except BaseException:
        service.stop()
        raise
    return service


@contextlib.contextmanager
def running_service(runtime: Runtime, model_path: str, device: str, **kwargs) -> Iterator[Service]:
    service = start_service(runtime, model_path, device, **kwargs)
    try:
        yield service
    finally:
        service.stop()


@contextlib.contextmanager
def strategy_service(strategy: Strategy, model: ResolvedModel, runtime: Runtime, device: str,
                     **kwargs) -> Iterator[Service | None]:
    """The model server a strategy's runs talk to, for their whole duration (None: it needs none)."""
    if not strategy.server:
        yield None
        return
    folder = model_for(model, runtime) if runtime.needs_preparing else model
    with running_service(runtime, folder.path.as_posix(), device, **kwargs) as service:
        yield service


#: What the child imports before its timed code: ``gc`` and ``time``, and no more. ``json`` waits
#: for the epilogue: it imports ``re`` and ``enum``, which would give the strategy's own imports a
#: head start (docs/strategies.md, "The service gap", has what it was worth).
_PRELUDE = """\
import gc, time as _el_time
gc.enable()
"""
_EPILOGUE = """\
import json
_el_mem = {}
with open('/proc/self/status') as _el_f:
    for _el_line in _el_f:
        if _el_line.startswith(('VmHWM:', 'VmRSS:')):
            _el_mem[_el_line.split(':')[0]] = int(_el_line.split()[1]) * 1024
_el_out['peak_rss'] = max(_el_mem.values()) if _el_mem else None
with open(RESULT_PATH, 'w') as _el_f:
    json.dump(_el_out, _el_f)
"""


def child_sources(strategy: Strategy, runtime: Runtime, model_path: str, device: str,
                  socket_path: str | None, make_cold: str, result_path: str) -> dict[str, str]:
    """The timing and the foreground child's whole source."""
    head = "\n".join([QUICK_EXIT, _PRELUDE, bindings(model_path, device), service_bindings(socket_path or ""),
                      f"RESULT_PATH = {result_path!r}", FOREGROUND_SOURCE, make_cold])
    start, first = strategy.start(runtime), strategy.first_vector(runtime)
    timing = "\n".join([
        head, "_el_t0 = _el_time.perf_counter()", start, "_el_t1 = _el_time.perf_counter()", first,
        "_el_t2 = _el_time.perf_counter()",
        "_el_out = {'ready': _el_t1 - _el_t0, 'first_vector': _el_t2 - _el_t0}", _EPILOGUE])
    foreground = "\n".join([
        head,
        "_el_foreground(0.2)  # untimed: the first chunks warm the interpreter",
        f"_el_alone = _el_foreground({FOREGROUND_SECONDS})",
        start,
        f"_el_during = _el_foreground({FOREGROUND_SECONDS})",
        first,
        "_el_out = {'foreground_alone': _el_alone, 'foreground_during': _el_during}", _EPILOGUE])
    return {"timing": timing, "foreground": foreground}


def run_strategy(model: ResolvedModel, runtime: str | Runtime, cache: str, strategy: str | Strategy, *,
                 service: Service | None = None, device: str | None = None, python: str | None = None,
                 timeout: float = 600, drop_caches: bool = False) -> dict:
    """One run of the strategy (a timing and a foreground child): {figure: value} of :data:`RUN_FIGURES`.

    ``service``: a running server for the ``service`` strategy (one is started for this run if
    not given). Raises :class:`ProbeError` if a child fails, :class:`NotAvailable` for a
    combination that cannot be measured.
    """
    rt = runtime if isinstance(runtime, Runtime) else check_measurable(runtime, cache, python=python)
    st = check_strategy(strategy, cache)
    device = device or device_from_env()
    folder = model_for(model, rt) if rt.needs_preparing else model
    model_path = folder.path.as_posix()
    if st.server and service is None:
        with strategy_service(st, model, rt, device, python=python, timeout=timeout) as started:
            return run_strategy(model, rt, cache, st, service=started, device=device, python=python,
                                timeout=timeout, drop_caches=drop_caches)
    figures: dict[str, float | None] = {}
    # Before the run's folder exists: a discovery child killed with its parent leaves nothing of ours.
    make_cold = ""
    if cache == "warm":
        try:
            make_warm(rt, model_path, device, python=python, timeout=timeout)
        except DiscoveryError:
            pass  # the stages fail to run: the children below fail the same way, with their own stderr
    if cache == "cold":
        try:
            files = stage_files(rt, model_path, device, python=python, timeout=timeout)
        except DiscoveryError as exc:
            raise ProbeError(f"cold start of {rt.name}: {exc}") from None
        make_cold = helper_source(write_file_list(files["total"]), f"strategy|{model.name}|{rt.name}|{st.name}",
                                  drop_caches)
    with tempfile.TemporaryDirectory(prefix="embedload-strategy-") as workdir:
        result_path = os.path.join(workdir, "result.json")
        sources = child_sources(st, rt, model_path, device, service.socket_path if service else None, make_cold,
                                result_path)
        for kind, source in sources.items():
            try:
                proc = run_child([python or sys.executable, "-c", source], cwd=workdir, env=child_environ(),
                                 timeout=timeout, cleanup=[workdir])
            except ChildTimeout as exc:
                raise ProbeError(f"{st.name} start-up of {rt.name} timed out after {timeout:g} s", exc.stderr) from None
            if proc.returncode != 0 or not os.path.exists(result_path):
                tail = (proc.stderr.strip().splitlines() or [""])[-1]
                raise ProbeError(f"{st.name} start-up of {rt.name} ({kind} run) failed: {describe_exit(proc.returncode)}"
                                 + (f": {tail}" if tail else ""), proc.stderr)
            with open(result_path, encoding="utf-8") as f:
                out = json.load(f)
            os.remove(result_path)
            if kind == "timing":
                figures.update(ready=out["ready"], first_vector=out["first_vector"], app_peak_rss=out["peak_rss"])
            else:
                figures["foreground_slowdown"] = out["foreground_during"] / out["foreground_alone"]
    figures["server_rss"] = service.rss() if service else None
    return figures

"""The measured process. Run as a script (never imported by the measured code's parent).

It imports only the standard library before the stages run, so the figures are the stages' own.
It reads a JSON spec on stdin, runs each stage's source in one namespace, and writes the result
JSON to the file the spec names (stdout is left to the libraries being measured).

An optional ``prelude`` runs in that namespace after the cache is made cold and before the first
stage, untimed: a what-if hook (``embedload imports --defer``). Whatever it leaves in
``EMBEDLOAD_REPORT`` (JSON-able) comes back as ``prelude_report``; timestamps in it are
``time.perf_counter()`` values, the clock of the stages' ``start`` and ``end``.

Memory on Linux: writing ``5`` to ``/proc/self/clear_refs`` resets the peak-RSS mark (VmHWM)
to the current RSS, so VmHWM read at a stage's end is the peak *within* that stage. Elsewhere a
psutil sampling thread stands in (coarser: it can miss peaks shorter than its interval).
"""

import gc
import json
import os
import sys
import time

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


class ProcMemory:
    """Exact RSS and within-stage peak from /proc (Linux)."""

    method = "linux-clear_refs-vmhwm"

    @staticmethod
    def available():
        try:
            with open(_CLEAR_REFS, "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def _read(self):
        values = {}
        with open(_STATUS) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    values[key] = int(value.split()[0]) * 1024
        return values

    def reset_peak(self):
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")

    def rss(self):
        return self._read()["VmRSS"]

    def peak(self):
        return self.peak_and_rss()[0]

    def peak_and_rss(self):
        """Both from one read. The kernel folds its per-CPU RSS counters into VmHWM lazily, so
        VmRSS can run a few pages ahead of it: the peak is at least the current RSS."""
        values = self._read()
        return max(values["VmHWM"], values["VmRSS"]), values["VmRSS"]

    def stop(self):
        pass


class SampledMemory:
    """psutil RSS sampled every few milliseconds in a thread (non-Linux fallback)."""

    method = "psutil-sampling-5ms"

    def __init__(self):
        import threading

        import psutil

        self._proc = psutil.Process()
        self._peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def reset_peak(self):
        self._peak = self._proc.memory_info().rss

    def rss(self):
        return self._proc.memory_info().rss

    def peak(self):
        return self.peak_and_rss()[0]

    def peak_and_rss(self):
        rss = self.rss()
        self._peak = max(self._peak, rss)
        return self._peak, rss

    def stop(self):
        self._stop.set()


def _versions(distributions):
    from importlib import metadata

    found = {}
    for dist in distributions:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def imported(before, after):
    """The modules a stage imported (names in ``after`` not in ``before``): how many, and the top-level
    packages with the most of them."""
    before = set(before)
    counts = {}
    for module in after:
        if module not in before:
            top = module.split(".")[0]
            counts[top] = counts.get(top, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
    return {"count": sum(counts.values()), "packages": dict(ranked)}


def make_cold(cold):
    """Run the suite's own make-cold source (embedload.measure.pagecache.helper_source); its verdict."""
    exec(cold["source"], {})
    with open(cold["result_file"]) as f:
        return json.load(f)


def main():
    spec = json.loads(sys.stdin.read())
    namespace = {"__name__": "__embedload_probe__"}
    exec(spec["bindings"], namespace)
    compiled = [(s["name"], compile(s["code"], "<stage %s>" % s["name"], "exec")) for s in spec["stages"]]
    steady_code = compile(spec["steady_code"], "<steady encode>", "exec")

    residency = make_cold(spec["cold"]) if spec.get("cold") else None
    if spec.get("bare"):
        # The same stages with one clock around them and nothing else: what the per-stage timers and
        # memory reads cost, measured against this (tools/check_sample.py).
        start = time.perf_counter()
        for _name, code in compiled:
            exec(code, namespace)
        end = time.perf_counter()
        _write(spec["result_path"], {"bare_total": end - start, "residency": residency, "pid": os.getpid()})
        return
    if spec.get("prelude"):
        exec(compile(spec["prelude"], "<prelude>", "exec"), namespace)
    memory = ProcMemory() if ProcMemory.available() else SampledMemory()
    rss_start = memory.rss()
    stages = {}
    run_peak = rss_start
    # sys.modules' names before each stage and after the last: a list copy (microseconds) between the
    # stages, since the total spans them; the differences are counted after the last stage
    snapshots = []
    for name, code in compiled:
        snapshots.append(list(sys.modules))
        memory.reset_peak()
        rss_before = memory.rss()
        start = time.perf_counter()
        exec(code, namespace)
        end = time.perf_counter()
        peak, rss_after = memory.peak_and_rss()
        run_peak = max(run_peak, peak)
        stages[name] = {
            "start": start,
            "end": end,
            "seconds": end - start,
            "rss_before": rss_before,
            "peak_rss": peak,
            "peak_increase": peak - rss_before,
            "rss_after": rss_after,
        }
    snapshots.append(list(sys.modules))
    rss_end = memory.rss()
    for i, name in enumerate(stages):
        stages[name]["modules_added"] = imported(snapshots[i], snapshots[i + 1])
    del snapshots

    # Steady state: the same encode again, after the first one paid for warm-up.
    memory.reset_peak()
    steady = []
    for _ in range(spec["steady_runs"]):
        start = time.perf_counter()
        exec(steady_code, namespace)
        steady.append(time.perf_counter() - start)
    run_peak = max(run_peak, memory.peak())
    memory.stop()

    vector = namespace.get("vector")
    if vector is not None:
        vector = [float(x) for x in (vector.tolist() if hasattr(vector, "tolist") else vector)]
    torch = sys.modules.get("torch")
    result = {
        "stages": stages,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "rss_growth": rss_end - rss_start,
        "residency": residency,
        "run_peak_rss": run_peak,
        "steady_encode_seconds": steady,
        "vector": vector,
        "memory_method": memory.method,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "versions": _versions(spec["distributions"]),
        "threads": torch.get_num_threads() if torch is not None else None,
        "cpu_count": os.cpu_count(),
        "gc_enabled": gc.isenabled(),
        "pid": os.getpid(),
        "prelude_report": namespace.get("EMBEDLOAD_REPORT"),
    }
    _write(spec["result_path"], result)


def _write(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
    # The result is written: skip the interpreter's teardown (freeing torch and the model), which is
    # never a figure and only makes every sample longer (docs/measurements.md has what it cost).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

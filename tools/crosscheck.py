#!/usr/bin/env python
"""Cross-check the suite's figures against independent measurements of the same work.

1. Stages add up: median(import) + median(init) + median(first_encode) vs median(total),
   all from the asv results of one commit.
2. Each asv timing vs two independent measurements of the same stage source:
   - the probe (``embedload.probe``: a different harness, per-stage perf_counter in one process);
   - an external whole-process wall clock: interleaved runs of ``python -c SETUP+STMT`` and
     ``python -c SETUP``, timed from outside; the stage is the difference of the medians.
     Meaningful only for stages much longer than process jitter (import, total).
3. The probe's peak RSS over a run vs ``/usr/bin/time -v``'s maximum resident set size for the
   same run.

Run from the repository after ``asv run``; prints a table and exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from embedload.models import DEFAULT_MODEL, resolve_model  # noqa: E402
from embedload.probe import child_environ, run_probe  # noqa: E402
from embedload.results import TIMING_BENCHMARKS, default_machine, load_commit_results, resolve_commit  # noqa: E402
from embedload.runtimes import STAGES, get_runtime, timeraw_source  # noqa: E402


def external_stage_seconds(stmt: str, setup: str, runs: int, python: str) -> tuple[float, float]:
    """Median wall time of whole processes with and without ``stmt``: (difference, spread)."""
    with_stmt, without = [], []
    # os._exit: the interpreter's teardown (unloading torch takes ~2 s here) is not part of a stage.
    end = "\nimport os\nos._exit(0)"
    for _ in range(runs):
        for code, bucket in ((setup + "\n" + stmt + end, with_stmt), (setup + end, without)):
            start = time.perf_counter()
            subprocess.run([python, "-c", code], env=child_environ(), check=True, capture_output=True)
            bucket.append(time.perf_counter() - start)
    diff = statistics.median(with_stmt) - statistics.median(without)
    spread = (statistics.quantiles(with_stmt, n=4)[2] - statistics.quantiles(with_stmt, n=4)[0]) / 2
    return diff, spread


def asv_env_python(env_name: str, config: str = "asv.conf.json") -> str:
    """The interpreter of the asv environment that produced results named ``env_name``.

    The comparison is only fair on the same interpreter and packages: the development ``.venv``
    holds more packages (pytest, jsonschema, an editable install), and timing it against asv's
    environment once made the external clock read 10-17% slow.
    """
    from asv import environment
    from asv.config import Config

    conf = Config.load(config)
    names = []
    for env in environment.get_environments(conf, [], verbose=False):
        names.append(env.name)
        if env.name == env_name:
            try:
                return env.find_executable("python")
            except OSError:
                raise SystemExit(f"asv environment {env_name} is not built ({env._path}): run `asv setup` or `asv run` first") from None
    raise SystemExit(f"no environment named {env_name!r} in {config} (it has: {', '.join(names) or 'none'}); pass --python")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--runtime", default="st-torch")
    parser.add_argument("--runs", type=int, default=8, help="runs of each independent measurement (default: 8)")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--results", default=".asv/results")
    parser.add_argument("--machine")
    parser.add_argument(
        "--python", help="interpreter to measure (default: the one of the asv environment that produced the results)"
    )
    parser.add_argument("--tolerance", type=float, default=0.10)
    args = parser.parse_args(argv)

    results_dir = Path(args.results)
    machine = args.machine or default_machine(results_dir)
    results = load_commit_results(results_dir, machine, resolve_commit(args.commit))
    asv, env_names = {}, set()
    for m in results.ok():
        stage = TIMING_BENCHMARKS.get(m.benchmark)
        if stage and m.params.get("runtime") == args.runtime and m.params.get("cache") == "warm" and m.params.get("model", args.model) == args.model:
            asv[stage] = m.value
            env_names.add(m.env_name)
    missing = [s for s in STAGES if s not in asv]
    if missing:
        print(f"no asv results for {', '.join(missing)} at {args.commit} on {machine}; run `asv run` first")
        return 2

    if args.python is None:
        if len(env_names) != 1:
            print(f"results come from {len(env_names)} asv environments ({', '.join(sorted(env_names))}); pass --python")
            return 2
        args.python = asv_env_python(env_names.pop())
    # abspath, not resolve(): a virtualenv python is a symlink to the base interpreter.
    args.python = os.path.abspath(args.python) if "/" in args.python else args.python
    print(f"interpreter: {args.python}")

    failures = 0
    parts = asv["import"] + asv["init"] + asv["first_encode"]
    ratio = parts / asv["total"]
    ok = abs(ratio - 1) <= args.tolerance
    failures += not ok
    print(f"[{'ok' if ok else 'FAIL'}] stages add up: import+init+first_encode = {parts:.3f} s, total = {asv['total']:.3f} s, ratio {ratio:.3f}")

    model = resolve_model(args.model)
    print(f"probing {args.runs} fresh processes ...", flush=True)
    probes = [run_probe(model, args.runtime, "warm", python=args.python) for _ in range(args.runs)]
    rt = get_runtime(args.runtime)
    print(f"{'stage':<13} {'asv':>9} {'probe':>9} {'ratio':>6} {'external':>9} {'±':>7} {'ratio':>6}")
    for stage in STAGES:
        probe_median = statistics.median(p["stages"][stage]["seconds"] for p in probes)
        r_probe = asv[stage] / probe_median
        line = f"{stage:<13} {asv[stage]:>9.4f} {probe_median:>9.4f} {r_probe:>6.3f}"
        ok = abs(r_probe - 1) <= args.tolerance
        stmt, setup = timeraw_source(rt, stage, model.path.as_posix(), "cpu")
        if stage in ("import", "total"):
            ext, spread = external_stage_seconds(stmt, setup, args.runs, args.python)
            r_ext = asv[stage] / ext
            line += f" {ext:>9.4f} {spread:>7.3f} {r_ext:>6.3f}"
            ok = ok and abs(r_ext - 1) <= args.tolerance
        else:
            line += f" {'(shorter than process jitter)':>24}"
        failures += not ok
        print(f"[{'ok' if ok else 'FAIL'}] {line}")

    timed = run_probe(model, args.runtime, "warm", python=args.python, launcher=("/usr/bin/time", "-v"))
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timed["launcher_stderr"] or "")
    if found:
        time_max = int(found.group(1)) * 1024
        r_mem = timed["run_peak_rss"] / time_max
        ok = abs(r_mem - 1) <= 0.05
        failures += not ok
        print(f"[{'ok' if ok else 'FAIL'}] peak RSS: probe {timed['run_peak_rss'] / 1e6:.1f} MB, /usr/bin/time -v {time_max / 1e6:.1f} MB, ratio {r_mem:.3f}")
    else:
        print("[skip] /usr/bin/time -v not available or printed no maximum RSS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

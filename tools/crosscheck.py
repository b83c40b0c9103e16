#!/usr/bin/env python
"""Cross-check the suite's figures against independent measurements of the same work.

1. Stages add up: median(import) + median(init) + median(first_encode) vs median(total),
   all from the asv results of one commit.
2. Each stage timed the way asv times it (asv_runner's own timeraw timer, same source, same
   interpreter) vs two independent measurements of the same work, taken in interleaved rounds
   so that the machine's drift hits all of them alike:
   - the probe (``embedload.measure.probe``: a different harness, per-stage perf_counter in one process);
   - an external whole-process wall clock: ``python -c SETUP+STMT`` minus ``python -c SETUP``,
     each timed from outside. Meaningful only for stages much longer than process jitter
     (import, total).
3. The probe's peak RSS over a run vs ``/usr/bin/time -v``'s maximum resident set size for the
   same run.

Run from the repository after ``asv run``; prints a table and exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from embedload.base.catalog import TIMING_BENCHMARKS  # noqa: E402
from embedload.base.children import child_environ  # noqa: E402
from embedload.measure.probe import run_probe  # noqa: E402
from embedload.measure.runtimes import OFFLINE_ENV, STAGES, get_runtime, timeraw_source  # noqa: E402
from embedload.models.registry import DEFAULT_MODEL, resolve_model  # noqa: E402
from embedload.results.asv_config import asv_env_python  # noqa: E402
from embedload.results.asv_results import ResultsError, default_machine, load_commit_results  # noqa: E402

# os._exit: the interpreter's teardown (unloading torch takes ~2 s here) is not part of a stage.
_EXIT = "\nimport os\nos._exit(0)"


def external_seconds(code: str, python: str) -> float:
    """Wall time of one whole ``python -c code`` process, timed from outside."""
    start = time.perf_counter()
    subprocess.run([python, "-c", code + _EXIT], env=child_environ(), check=True, capture_output=True)
    return time.perf_counter() - start


def asv_runner_seconds(stmt: str, setup: str, python: str) -> float:
    """One sample taken by asv_runner's own timeraw timer (its template, its subprocess), in ``python``."""
    from unittest import mock

    from asv_runner.benchmarks.timeraw import _SeparateProcessTimer

    timer = _SeparateProcessTimer(lambda: (stmt, setup), env=dict(OFFLINE_ENV))
    # asv runs its runner inside the env; the child's stderr (progress bars) is not wanted here.
    with mock.patch.object(sys, "executable", python), contextlib.redirect_stderr(io.StringIO()):
        return timer.timeit(1)


def median_spread(values) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return statistics.median(values), (q[2] - q[0]) / 2


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
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="stages to time (default: all); e.g. first_encode with more --runs for a short stage")
    args = parser.parse_args(argv)

    results_dir = Path(args.results)
    machine = args.machine or default_machine(results_dir)
    results = load_commit_results(results_dir, machine, args.commit)
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
        try:
            # The comparison is only fair on asv's own interpreter and packages: timing the dev
            # .venv (more packages, an editable install) once read 10-17% slow.
            args.python = asv_env_python(env_names.pop())
        except ResultsError as exc:
            print(exc)
            return 2
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
    rt = get_runtime(args.runtime)
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}; expected some of {', '.join(STAGES)}")
    sources = {stage: timeraw_source(rt, stage, model.path.as_posix(), "cpu") for stage in stages}
    # Interleaved rounds: on a shared machine speed drifts by 10-20% over minutes, so measurements
    # compared with each other are taken in the same time windows.
    samples = {(kind, stage): [] for kind in ("asv", "probe", "external") for stage in STAGES}
    started = time.perf_counter()
    for i in range(args.runs):
        print(f"round {i + 1}/{args.runs} ({time.perf_counter() - started:.0f} s so far) ...", flush=True)
        for stage in stages:
            samples["asv", stage].append(asv_runner_seconds(*sources[stage], args.python))
        probe = run_probe(model, args.runtime, "warm", python=args.python)
        for stage in stages:
            samples["probe", stage].append(probe["stages"][stage]["seconds"])
        for stage in [s for s in ("import", "total") if s in stages]:
            stmt, setup = sources[stage]
            samples["external", stage].append(
                external_seconds(setup + "\n" + stmt, args.python) - external_seconds(setup, args.python))

    print(f"medians over {args.runs} interleaved rounds (± half the interquartile range); "
          "'recorded' is the asv run's stored result, from another time window")
    print(f"{'stage':<13} {'recorded':>9} {'asv':>8} {'±':>6} {'probe':>8} {'ratio':>6} {'external':>9} {'±':>6} {'ratio':>6}")
    for stage in stages:
        a, a_spread = median_spread(samples["asv", stage])
        p, _ = median_spread(samples["probe", stage])
        line = f"{stage:<13} {asv[stage]:>9.4f} {a:>8.4f} {a_spread:>6.3f} {p:>8.4f} {a / p:>6.3f}"
        ok = abs(a / p - 1) <= args.tolerance
        if samples["external", stage]:
            e, e_spread = median_spread(samples["external", stage])
            line += f" {e:>9.4f} {e_spread:>6.3f} {a / e:>6.3f}"
            ok = ok and abs(a / e - 1) <= args.tolerance
        else:
            line += f" {'(shorter than process jitter)':>23}"
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

#!/usr/bin/env python
"""Is one sample honest? Three checks of the suite's measuring child, in interleaved rounds.

    tools/check_sample.py [--rounds 20] [--cache warm|cold] [--model all-MiniLM-L6-v2] [--runtime st-torch]
                          [--python PY] [--json NEW_FILE]

Each round runs, in an order that rotates from round to round so that the machine's drift hits
all of them alike:

- the suite's sample: one child timing each stage and reading each one's peak RSS
  (``embedload.measure.probe.run_probe``), its whole life also timed from outside;
- the bare child: the same stages with one clock around all three and nothing else;
- an empty child: the same interpreter and spec with no stage, timed from outside (the
  interpreter's start, reading the spec, writing the result);
- the design before one load per sample: each stage timed in a fresh interpreter of its own by
  asv_runner's own ``timeraw_`` timer, the earlier stages run in its untimed setup.

It prints, with medians and half the interquartile range:

1. what the per-stage timers and memory reads cost: the total with them against the bare
   total, paired round by round (criterion: under 1%);
2. the total against an external whole-process clock, the empty child's life subtracted
   (criterion: within 5%);
3. each warm figure against the design before, paired round by round.

Exit 0 when 1 and 2 hold, 1 when one does not, 2 on bad input. With ``--cache cold`` only the
suite's sample and the design before run, each made cold its own way: the sample evicts the whole
load's files once before the import, the design before evicted each stage's files right before
that stage (docs/cold-start.md); 3 then says by how much the figures differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from crosscheck import asv_runner_seconds, median_spread  # noqa: E402  (tools/: this script's folder)

from embedload.base.children import child_environ, run_child  # noqa: E402
from embedload.measure.pagecache import helper_source, stage_files, write_file_list  # noqa: E402
from embedload.measure.probe import _CHILD_SOURCE, run_probe  # noqa: E402
from embedload.measure.runtimes import STAGES, NotAvailable, check_measurable, timeraw_source  # noqa: E402
from embedload.models.registry import DEFAULT_MODEL, ModelError, resolve_model  # noqa: E402

OVERHEAD_LIMIT = 0.01
CLOCK_LIMIT = 0.05


def empty_child_seconds(python: str) -> float:
    """The life of the measuring child with no stage, timed from outside as run_probe times a sample."""
    with tempfile.TemporaryDirectory(prefix="embedload-check-") as workdir:
        spec = {"bindings": "", "stages": [], "steady_code": "", "steady_runs": 0, "distributions": [],
                "result_path": os.path.join(workdir, "result.json"), "cold": None}
        started = time.perf_counter()
        proc = run_child([python, "-c", _CHILD_SOURCE.read_text(encoding="utf-8")], input=json.dumps(spec),
                         cwd=workdir, env=child_environ(), timeout=120, cleanup=[workdir])
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"the empty child failed: {proc.stderr.strip()[-500:]}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds, one of each kind a round (default: 20)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--runtime", default="st-torch")
    parser.add_argument("--python", default=sys.executable, help="the interpreter measured (default: this one)")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm")
    parser.add_argument("--json", help="also write every sample to this new file")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error(f"--rounds takes 2 or more (medians and spreads need them); got {args.rounds}")
    if args.json and os.path.exists(args.json):
        parser.error(f"--json {args.json} exists; name a new file (results are never overwritten)")
    try:
        model = resolve_model(args.model)
        rt = check_measurable(args.runtime, args.cache, python=args.python)
    except (ModelError, NotAvailable) as exc:
        print(f"check_sample: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    path = model.path.as_posix()
    if args.cache == "warm":
        sources = {stage: timeraw_source(rt, stage, path, "cpu") for stage in STAGES}
        kinds = ["sample", "bare", "empty", "before"]
    else:  # the design before: each stage's own files evicted right before it, in its untimed setup
        files = stage_files(rt, path, "cpu", python=args.python)
        sources = {stage: timeraw_source(rt, stage, path, "cpu",
                                         helper_source(write_file_list(files[stage]), f"check|{stage}", False))
                   for stage in STAGES}
        kinds = ["sample", "before"]
    samples: dict[str, list] = {k: [] for k in ("sample", "process", "bare", "empty", *(f"before_{s}" for s in STAGES))}
    started = time.perf_counter()
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds} ({time.perf_counter() - started:.0f} s so far) ...", file=sys.stderr, flush=True)
        for kind in kinds[i % len(kinds):] + kinds[:i % len(kinds)]:
            if kind == "sample":
                run = run_probe(model, rt, args.cache, python=args.python)
                samples["sample"].append({s: run["stages"][s]["seconds"] for s in STAGES})
                samples["process"].append(run["process_seconds"])
            elif kind == "bare":
                samples["bare"].append(run_probe(model, rt, "warm", python=args.python, bare=True)["bare_total"])
            elif kind == "empty":
                samples["empty"].append(empty_child_seconds(args.python))
            else:
                for stage in STAGES:
                    samples[f"before_{stage}"].append(asv_runner_seconds(*sources[stage], args.python))

    total = [s["total"] for s in samples["sample"]]
    failures = 0
    print(f"{model.name}, {rt.name}, {args.cache}: {args.rounds} interleaved rounds on {args.python}; "
          "median ± half the interquartile range")
    if args.cache == "warm":
        failures += _instrument_checks(samples, total)
    print(f"each {args.cache} figure, one load per sample against the design before (each stage in interpreters of its own):")
    print(f"  {'stage':<13} {'one load':>9} {'±':>7} {'before':>9} {'±':>7} {'ratio':>6} {'paired ratio':>13}")
    for stage in STAGES:
        now = [s[stage] for s in samples["sample"]]
        before = samples[f"before_{stage}"]
        n, n_spread = median_spread(now)
        b, b_spread = median_spread(before)
        paired, paired_spread = median_spread([x / y for x, y in zip(now, before)])
        print(f"  {stage:<13} {n:>9.4f} {n_spread:>7.4f} {b:>9.4f} {b_spread:>7.4f} {n / b:>6.3f} "
              f"{paired:>7.3f} ± {paired_spread:.3f}")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump({"model": model.name, "runtime": rt.name, "cache": args.cache, "python": args.python,
                       "rounds": args.rounds, "samples": samples}, f)
        os.replace(tmp, args.json)
    return 1 if failures else 0


def _instrument_checks(samples: dict, total: list[float]) -> int:
    """Checks 1 and 2 (warm): printed; how many failed."""
    failures = 0
    diffs = [(t - b) / b for t, b in zip(total, samples["bare"])]
    d, d_spread = median_spread(diffs)
    ok = d < OVERHEAD_LIMIT
    failures += not ok
    print(f"[{'ok' if ok else 'FAIL'}] timers and memory reads: total {median_spread(total)[0]:.4f} s, bare "
          f"{median_spread(samples['bare'])[0]:.4f} s; paired difference {d:+.2%} ± {d_spread:.2%} (limit {OVERHEAD_LIMIT:.0%})")
    external = [p - e for p, e in zip(samples["process"], samples["empty"])]
    ratio = median_spread(total)[0] / median_spread(external)[0]
    ok = abs(ratio - 1) <= CLOCK_LIMIT
    failures += not ok
    print(f"[{'ok' if ok else 'FAIL'}] external clock: whole process {median_spread(samples['process'])[0]:.4f} s - empty "
          f"child {median_spread(samples['empty'])[0]:.4f} s = {median_spread(external)[0]:.4f} s; total / that = "
          f"{ratio:.3f} (limit ±{CLOCK_LIMIT:.0%})")
    return failures


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Check the gate on results the suite itself produces on this machine.

    validate_gate.py run --label aa --runs 11 [--bench timeraw]        A/A: the same commit, again and again
    validate_gate.py run --label plant20 --runs 10 --plant 0.8 --bench timeraw_import
    validate_gate.py evaluate --pairs aa:aa --thresholds 1.1,1.2       consecutive A/A pairs
    validate_gate.py evaluate --pairs aa:plant20 --thresholds 1.1,1.2  each planted run vs an A run
    validate_gate.py run --label base --paired-label plant --plant 0.88 --runs 10
                                                   alternating: each baseline run, then its planted run
    validate_gate.py run --label b --paired-label p20,p25,p30 --plant-fraction 0.2,0.25,0.3 --runs 10
                                                   a size sweep: each baseline run, then one planted run
                                                   per size, each sized on that baseline's import median

``run`` drives ``asv run --record-samples -E existing:PYTHON`` with a throw-away config whose
results go to WORKDIR/results, copying each run's results file to WORKDIR/<label>-NN.json.
``--plant S`` puts a slowdown into the *environment*, not the suite: a ``.pth`` file in the
interpreter's site-packages installs an import hook that sleeps S seconds when
``sentence_transformers`` is first imported (so only the import stage, and the total, slow down).
It is removed when the runs end. ``--plant-fraction F`` sizes the sleep on the import median of
the baseline run just made (F x median seconds), so "+25%" means +25% of what was measured minutes
before, whatever the machine's drift; the sizes of a sweep run in a rotating order.

``evaluate`` runs the gate's own ``evaluate`` (the code behind ``embedload gate``) on each pair,
regressions only, and prints how often it reported a regression.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

PLANT_PTH = "zz_embedload_planted_slowdown.pth"
PLANT_MODULE = "zz_embedload_planted_slowdown.py"
PLANT_SOURCE = '''"""Planted by tools/validate_gate.py: slows the first import of sentence_transformers."""
import sys, time

class _Slow:
    def find_spec(self, name, path=None, target=None):
        if name == "sentence_transformers":
            sys.meta_path.remove(self)
            time.sleep({seconds!r})
        return None

sys.meta_path.insert(0, _Slow())
'''


def _site_packages(python: str) -> Path:
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _conf(workdir: Path, benchmark_dir: Path) -> Path:
    from asv import util

    conf = util.load_json(str(REPO / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(REPO), benchmark_dir=str(benchmark_dir), results_dir=str(workdir / "results"),
                html_dir=str(workdir / "html"), env_dir=str(workdir / "env"))
    path = workdir / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=1))
    return path


def _plant(site: Path, seconds: float) -> list[Path]:
    (site / PLANT_MODULE).write_text(PLANT_SOURCE.format(seconds=seconds))
    (site / PLANT_PTH).write_text("import zz_embedload_planted_slowdown\n")
    return [site / PLANT_MODULE, site / PLANT_PTH]


def _one_run(args, conf: Path, commit: str, workdir: Path, target: Path) -> bool:
    start = time.monotonic()
    cmd = [sys.executable, "-m", "asv", "--config", str(conf), "run", "--record-samples", "--bench", args.bench,
           "-E", f"existing:{args.python}", "--set-commit-hash", commit]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    files = glob.glob(str(workdir / "results" / "*" / f"{commit[:8]}-existing*.json"))
    if proc.returncode != 0 or len(files) != 1:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        return False
    shutil.copy(files[0], target)
    os.unlink(files[0])  # the next run starts from nothing
    print(f"{target.name} in {time.monotonic() - start:.0f} s", flush=True)
    return True


IMPORT_WARM = "bench_timing.Import.timeraw_import(st-torch, warm)"


def _import_median(path: Path, results_dir: Path) -> float:
    from embedload.results import measurements_from_results_file

    for m in measurements_from_results_file(path, results_dir)[0]:
        if m.label == IMPORT_WARM and m.status == "ok":
            return m.value
    raise SystemExit(f"{path.name} has no {IMPORT_WARM} result to size the plant on: does --bench select it?")


def _plants(args) -> list[tuple[str, str, float]]:
    """[(paired label, kind, size)], kind 'seconds' or 'fraction'; [] without --paired-label."""
    labels = args.paired_label.split(",") if args.paired_label else []
    if args.plant_fraction:
        sizes, kind = [float(f) for f in args.plant_fraction.split(",")], "fraction"
    else:
        sizes, kind = ([args.plant] if args.plant else []), "seconds"
    if labels and len(labels) != len(sizes):
        raise SystemExit(f"--paired-label names {len(labels)} label(s) for {len(sizes)} plant size(s): give one per size")
    if args.plant and args.plant_fraction:
        raise SystemExit("give --plant (seconds) or --plant-fraction, not both")
    if args.plant_fraction and not labels:
        raise SystemExit("--plant-fraction sizes on a baseline run: give --paired-label too")
    return [(label, kind, size) for label, size in zip(labels, sizes)]


def cmd_run(args) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    plants = _plants(args)
    conf = _conf(workdir, Path(args.benchmark_dir))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    site = _site_packages(args.python)
    planted: list[Path] = []
    try:
        for i in range(args.runs):
            print(f"[{i + 1}/{args.runs}] ", end="", flush=True)
            if args.plant and not plants:
                planted = planted or _plant(site, args.plant)
            base = workdir / f"{args.label}-{i:02d}.json"
            if not _one_run(args, conf, commit, workdir, base):
                return 2
            # The planted runs right after their baseline, as `asv continuous` runs them: they share
            # the machine's state of those minutes. Rotated, so no size always runs last.
            for label, kind, size in plants[i % len(plants):] + plants[:i % len(plants)] if plants else []:
                seconds = size * _import_median(base, workdir / "results") if kind == "fraction" else size
                planted = _plant(site, seconds)
                what = f"+{size:.0%} = {seconds:.3f} s" if kind == "fraction" else f"{seconds} s"
                print(f"[{i + 1}/{args.runs}] planted {what}: ", end="", flush=True)
                ok = _one_run(args, conf, commit, workdir, workdir / f"{label}-{i:02d}.json")
                for path in planted:
                    path.unlink(missing_ok=True)
                planted = []
                if not ok:
                    return 2
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
    return 0


def cmd_evaluate(args) -> int:
    from embedload.config import Config
    from embedload.gate import evaluate
    from embedload.results import measurements_from_results_file

    workdir = Path(args.workdir)
    results_dir = workdir / "results"
    base_label, cur_label = args.pairs.split(":")
    bases = sorted(workdir.glob(f"{base_label}-*.json"))
    curs = sorted(workdir.glob(f"{cur_label}-*.json"))
    if base_label == cur_label:
        pairs = list(zip(bases, bases[1:]))
    else:
        pairs = list(zip(bases, curs))
    thresholds = [float(t) for t in args.thresholds.split(",")]
    print(f"{len(pairs)} pairs {args.pairs}")
    for threshold in thresholds:
        flagged = 0
        lines = []
        for base, cur in pairs:
            report = evaluate(
                measurements_from_results_file(cur, results_dir)[0], config=Config(path=None), commit=cur.name,
                machine="this", baseline=measurements_from_results_file(base, results_dir)[0], baseline_name=base.name,
                threshold=threshold, fail_on=("regressions",),
            )
            if report.problems:
                print(f"  {base.name} -> {cur.name}: cannot judge: {report.problems}")
                continue
            flagged += bool(report.regressions)
            imp = [c for c in report.comparisons if c.name.startswith(IMPORT_WARM)]
            ratio = f"{imp[0].ratio:.3f}" if imp else "-"
            what = ", ".join(f"{c.name} {c.ratio:.2f}× [{c.test}]" for c in report.regressions) or "no regression"
            lines.append(f"  {base.name} -> {cur.name}: import ratio {ratio}; {what}")
        print(f"threshold {threshold:g}: regression reported in {flagged}/{len(pairs)} pairs")
        if args.verbose:
            print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/embedload-gate-validation")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--label", required=True)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--bench", default="timeraw", help="asv --bench regex (default: %(default)s)")
    p.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    p.add_argument("--plant", type=float, default=0.0, help="seconds of planted slowdown in the import")
    p.add_argument("--paired-label",
                   help="with --plant or --plant-fraction: each --label run (unplanted) is followed by a planted run "
                        "saved under this label; comma-separated, one label per --plant-fraction size")
    p.add_argument("--plant-fraction",
                   help="comma-separated fractions (0.25 = +25%%) of the preceding baseline run's warm import median")
    p.add_argument("--benchmark-dir", default=str(REPO / "benchmarks"),
                   help="the suite to run (default: the working tree's); a copy keeps a long experiment fixed")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("evaluate")
    p.add_argument("--pairs", required=True, help="BASE:CURRENT labels; the same label twice means consecutive pairs")
    p.add_argument("--thresholds", default="1.2")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_evaluate)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

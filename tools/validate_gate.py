#!/usr/bin/env python
"""How often the shipped gate catches a planted slowdown, and how often it cries wolf, on this machine.

    tools/validate_gate.py run [--sets 10] [--sizes 0,0.05,0.1,0.2] [--bench REGEX] [--workdir DIR]
    tools/validate_gate.py report [--workdir DIR] [--format text|markdown]

A *set* is one ``asv run`` with the gate's own settings (``-a rounds=10``, the suite's
``GATE_ROUNDS``; rounds interleaved across commits, samples recorded), as ``make gate`` runs it, over
1 + len(sizes) commits of a scratch clone: the baseline A (this repository's HEAD) and one
candidate per size, each an empty commit on top of A, so that every commit measures A's code.
A candidate of size F carries a planted slowdown, keyed on its commit (asv's ``ASV_COMMIT``):
F x A's import median of CPU-bound work (a busy loop) at the import of sentence_transformers,
and F x the rest of A's total after ``SentenceTransformer.__init__``, so the import *and* the
total are F slower. Size 0 is an A/A pair. The plant lives in a ``.pth`` file in the asv
environment's site-packages for the run and is removed after it.

Each candidate is then judged against A by the gate's own ``evaluate`` with the shipped
defaults (threshold, regressions only): one trial per candidate per set, written as a JSON line
to WORKDIR/trials.jsonl with the ratios, the verdicts, the stated power and the conditions.
``report`` turns the trials into the table of docs/gate.md. Sizes are sized on the previous
set's A medians (the first set on 3 fresh loads in the environment), so "+10%" means 10% of what this
machine measured minutes before.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

DEFAULT_BENCH = r"Stages\.track_(import|total)\('all-MiniLM-L6-v2', 'st-torch', 'warm'\)"
IMPORT = "bench_load.Stages.track_import(all-MiniLM-L6-v2, st-torch, warm)"
TOTAL = "bench_load.Stages.track_total(all-MiniLM-L6-v2, st-torch, warm)"
PLANT_PTH = "zz_embedload_planted_slowdown.pth"
PLANT_MODULE = "zz_embedload_planted_slowdown.py"
PLANT_SOURCE = '''"""Planted by tools/validate_gate.py for the commits named in {plan}: CPU-bound work in the load."""
import json, os, sys, time

def _burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

try:
    with open({plan!r}) as _f:
        _SIZES = json.load(_f).get(os.environ.get("ASV_COMMIT", ""))
except (OSError, ValueError):
    _SIZES = None


class _Plant:
    def find_spec(self, name, path=None, target=None):
        if name != "sentence_transformers":
            return None
        sys.meta_path.remove(self)
        _burn(_SIZES["import"])
        import importlib.util
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            cls = module.SentenceTransformer
            init = cls.__init__

            def slowed(self, *args, **kwargs):
                init(self, *args, **kwargs)
                _burn(_SIZES["init"])

            cls.__init__ = slowed

        spec.loader.exec_module = exec_module
        return spec


if _SIZES:
    sys.meta_path.insert(0, _Plant())
'''


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _scratch(workdir: Path, candidates: int) -> list[str]:
    """A clone of HEAD with ``candidates`` empty commits on top: [A, candidate 1, ...]."""
    repo = workdir / "repo"
    if not repo.exists():
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(repo)], check=True)
        _git(repo, "checkout", "-q", "-B", "validate", _git(REPO, "rev-parse", "HEAD"))
        for i in range(candidates):
            _git(repo, "-c", "user.name=validate", "-c", "user.email=validate@invalid", "commit", "-q",
                 "--allow-empty", "-m", f"validate_gate: candidate {i + 1} (A's code)")
    hashes = _git(repo, "log", "--reverse", "--format=%H", f"-{candidates + 1}").split()
    if len(hashes) != candidates + 1:
        raise SystemExit(f"{repo} holds {len(hashes)} commits for {candidates + 1}; remove it to start over")
    return hashes


def _conf(workdir: Path) -> Path:
    from asv import util

    conf = util.load_json(str(REPO / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(workdir / "repo"), branches=["validate"], benchmark_dir=str(workdir / "repo" / "benchmarks"),
                results_dir=str(workdir / "results"),
                html_dir=str(workdir / "html"), env_dir=str(REPO / ".asv" / "env"))
    path = workdir / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=1))
    return path


def _median_of(results_dir: Path, machine: str, commit: str, label: str) -> float:
    from embedload.results.asv_results import load_commit_results

    for m in load_commit_results(results_dir, machine, commit).measurements:
        if m.label == label and m.status == "ok":
            return m.value
    raise SystemExit(f"no {label} result for {commit[:8]}: does --bench select it?")


CALIBRATE = """
import time
start = time.perf_counter()
from sentence_transformers import SentenceTransformer
imported = time.perf_counter()
SentenceTransformer({path!r}, device="cpu").encode("calibration")
print(imported - start, time.perf_counter() - start)
"""


def _calibrate(python: str, runs: int = 3) -> dict[str, float]:
    """Import and total medians of ``runs`` fresh processes of the environment's interpreter (warm)."""
    from embedload.models.registry import DEFAULT_MODEL, resolve_model

    source = CALIBRATE.format(path=str(resolve_model(DEFAULT_MODEL).path))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    found = []
    for _ in range(runs + 1):  # the first run warms the page cache and is dropped
        out = subprocess.run([python, "-c", source], capture_output=True, text=True, env=env, cwd=REPO)
        if out.returncode != 0:
            raise SystemExit(f"calibration failed in {python}: {out.stderr.strip().splitlines()[-1:]}")
        found.append([float(x) for x in out.stdout.split()[-2:]])
    found = found[1:]
    return {"import": statistics.median(f[0] for f in found), "total": statistics.median(f[1] for f in found)}


def _trial(results_dir: Path, machine: str, base: str, cand: str, size: float, set_no: int, seconds: float) -> dict:
    from embedload.base.config import Config
    from embedload.judge.gate import DEFAULT_THRESHOLD, evaluate
    from embedload.results.asv_results import load_commit_results

    current = load_commit_results(results_dir, machine, cand).measurements
    baseline = load_commit_results(results_dir, machine, base).measurements
    report = evaluate(current, config=Config(path=None), commit=cand, machine=machine, baseline=baseline,
                      baseline_name=base[:8], threshold=DEFAULT_THRESHOLD, fail_on=("regressions",))
    per = {}
    for c in report.comparisons:
        if c.status in ("regressed", "improved", "unchanged", "insignificant"):
            per[c.name] = {"ratio": c.ratio, "status": c.status, "asv_status": c.asv_status,
                           "p_slower": c.p_values[0] if c.p_values else None,
                           "detectable": c.power.detectable if c.power else None,
                           "noise": c.power.noise if c.power else None}
    return {"set": set_no, "size": size, "flagged": bool(report.regressions), "exit_code": report.exit_code,
            "asv_flagged": any(c.asv_status == "regressed" for c in report.comparisons),
            "problems": report.problems, "benchmarks": per, "disturbed": bool(report.disturbed),
            "threshold": DEFAULT_THRESHOLD, "set_seconds": seconds, "commits": [base, cand]}


def cmd_run(args) -> int:
    from embedload.base.children import raise_on_sigterm, run_child
    from embedload.results.asv_config import asv_env_python
    from embedload.results.asv_results import default_machine
    from embedload.suite.harness import GATE_ROUNDS

    raise_on_sigterm()  # a SIGTERM unwinds through the finally below, which takes the plant out

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [float(s) for s in args.sizes.split(",")]
    hashes = _scratch(workdir, len(sizes))
    conf = _conf(workdir)
    python = asv_env_python(None, conf)
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    plan = workdir / "plant.json"
    trials = workdir / "trials.jsonl"
    done = sum(1 for _ in trials.open()) // len(sizes) if trials.exists() else 0
    medians = json.loads((workdir / "medians.json").read_text()) if (workdir / "medians.json").exists() else None
    if medians is None:
        print("calibrating the plant on 3 fresh loads in the baseline's environment ...", flush=True)
        medians = _calibrate(python)
    for leftover in (site / PLANT_PTH, site / PLANT_MODULE):  # a run killed with SIGKILL leaves them
        leftover.unlink(missing_ok=True)
    env = dict(os.environ)
    (workdir / "hashes.txt").write_text("\n".join(hashes) + "\n")
    for set_no in range(done, done + args.sets):
        plan.write_text(json.dumps({
            h: {"import": f * medians["import"], "init": f * (medians["total"] - medians["import"])}
            for h, f in zip(hashes[1:], sizes) if f > 0
        }))
        (site / PLANT_MODULE).write_text(PLANT_SOURCE.format(plan=str(plan)))
        (site / PLANT_PTH).write_text("import zz_embedload_planted_slowdown\n")
        shutil.rmtree(workdir / "results", ignore_errors=True)
        start = time.monotonic()
        print(f"set {set_no + 1}: {len(hashes)} commits, sizes {args.sizes} (import {medians['import']:.3f} s, "
              f"total {medians['total']:.3f} s) ...", flush=True)
        try:  # in its own process group, ended with this script whatever happens
            proc = run_child(
                [sys.executable, "-m", "asv", "--config", str(conf), "run", "-a", f"rounds={GATE_ROUNDS}", "--record-samples", "--interleave-rounds",
                 "--bench", args.bench, f"HASHFILE:{workdir / 'hashes.txt'}"],
                cwd=str(workdir), env=env, timeout=None,
            )
        finally:
            (site / PLANT_PTH).unlink(missing_ok=True)
            (site / PLANT_MODULE).unlink(missing_ok=True)
        seconds = time.monotonic() - start
        log = workdir / "logs" / f"set-{set_no + 1:02d}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            print(f"asv run failed (exit {proc.returncode}); see {log}", file=sys.stderr)
            return 2
        results = workdir / "results"
        machine = default_machine(results)
        with trials.open("a") as out:
            for h, f in zip(hashes[1:], sizes):
                trial = _trial(results, machine, hashes[0], h, f, set_no + 1, seconds)
                out.write(json.dumps(trial) + "\n")
                ratios = ", ".join(f"{name.split('.')[-1].split('(')[0]} {b['ratio']:.3f} {b['status']}"
                                   for name, b in sorted(trial["benchmarks"].items()))
                print(f"  +{f:.0%}: {'FLAGGED' if trial['flagged'] else 'passed'} ({ratios})"
                      + (" [disturbed]" if trial["disturbed"] else ""), flush=True)
        shutil.copytree(results, workdir / "sets" / f"{set_no + 1:02d}", dirs_exist_ok=True)
        medians = {"import": _median_of(results, machine, hashes[0], IMPORT),
                   "total": _median_of(results, machine, hashes[0], TOTAL)}
        (workdir / "medians.json").write_text(json.dumps(medians))
        print(f"  set {set_no + 1} took {seconds / 60:.1f} min", flush=True)
    return 0


def _flagged(trials: list[dict], name: str) -> int:
    return sum(1 for t in trials if t["benchmarks"].get(name, {}).get("status") == "regressed")


def _median(trials: list[dict], name: str, key: str) -> float:
    values = [t["benchmarks"][name][key] for t in trials if t["benchmarks"].get(name, {}).get(key) is not None]
    return statistics.median(values) if values else float("nan")


def cmd_report(args) -> int:
    path = Path(args.workdir) / "trials.jsonl"
    if not path.is_file():
        print(f"validate_gate: no trials in {args.workdir} ({path.name} is missing): run `tools/validate_gate.py "
              f"--workdir {args.workdir} run` first, or name the folder that holds them with --workdir", file=sys.stderr)
        return 2
    trials = [json.loads(line) for line in path.read_text().splitlines()]
    sizes = sorted({t["size"] for t in trials})
    rows = []
    for size in sizes:
        ts = [t for t in trials if t["size"] == size]

        rows.append([
            "A/A" if size == 0 else f"+{size:.0%}", len(ts), sum(t["flagged"] for t in ts),
            _flagged(ts, IMPORT), _flagged(ts, TOTAL),
            f"{_median(ts, IMPORT, 'ratio'):.3f}", f"{_median(ts, TOTAL, 'ratio'):.3f}",
            f"+{_median(ts, IMPORT, 'detectable'):.1%}", f"+{_median(ts, TOTAL, 'detectable'):.1%}",
            sum(t.get("asv_flagged", False) for t in ts), sum(t["disturbed"] for t in ts),
        ])
    header = ["planted", "trials", "gate flagged", "import flagged", "total flagged", "import ratio (median)",
              "total ratio (median)", "import: sees from (median)", "total: sees from (median)",
              "asv compare flagged", "disturbed"]
    from tabulate import tabulate

    print(tabulate(rows, headers=header, tablefmt="github" if args.format == "markdown" else "simple"))
    seconds = sorted({(t["set"], t["set_seconds"]) for t in trials})
    commits = len(sizes) + 1
    per_set = statistics.median(s for _, s in seconds)
    print(f"\n{len(seconds)} set(s) of {commits} commits; a set took {per_set / 60:.1f} min (median), "
          f"i.e. {per_set * 2 / commits / 60:.1f} min per pair of commits; threshold {trials[0]['threshold']:g}; "
          f"asv compare flagged: asv's own verdict of the same pairs at that factor")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    workdir_help = "scratch clone, results and trials (default: /tmp/embedload-gate-validation)"
    parser.add_argument("--workdir", default="/tmp/embedload-gate-validation", help=workdir_help)
    # --workdir also after the command, as the docstring writes it; there it overrides the one before
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--workdir", default=argparse.SUPPRESS, help=workdir_help)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", parents=[after], help="measure sets of baseline + planted candidates and judge each pair")
    p.add_argument("--sets", type=int, default=10, help="sets to add to the workdir's trials (default: %(default)s)")
    p.add_argument("--sizes", default="0,0.05,0.1,0.2",
                   help="planted slowdowns, one candidate commit each; 0 is an A/A pair (default: %(default)s)")
    p.add_argument("--bench", default=DEFAULT_BENCH, help="asv --bench regex (default: import and total, warm)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("report", parents=[after], help="the detection table from the workdir's trials")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.set_defaults(func=cmd_report)
    args = parser.parse_args(argv)
    from embedload.base.children import Terminated

    try:
        return args.func(args)
    except Terminated:
        print("validate_gate: stopped by SIGTERM; the plant is out of the asv environment, the trials of the "
              "finished sets are kept", file=sys.stderr)
        return 143


if __name__ == "__main__":
    sys.exit(main())

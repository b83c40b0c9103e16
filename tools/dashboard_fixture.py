#!/usr/bin/env python
"""Record tests/fixtures/dashboard from this machine's real asv results (after `make history`).

    .venv/bin/python tools/dashboard_fixture.py --machine vm --machine vm-1cpu [--commits 5]

Keeps, per machine, the results of the newest N commits that ``make history`` measured (the
import and the total, warm, st-torch, all-MiniLM-L6-v2), trimmed to those two benchmarks and
their recorded conditions, plus asv's ``benchmarks.json`` entries for them. The browser tests
publish them with asv and with ``embedload publish``. Nothing is made up: every number is a
sample asv recorded here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "dashboard"
KEEP = ("bench_load.Stages.track_import", "bench_load.Stages.track_total")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(REPO / ".asv" / "results"))
    parser.add_argument("--machine", action="append", required=True, help="asv machine name (repeat for several)")
    parser.add_argument("--commits", type=int, default=5, help="the newest N commits measured (default: %(default)s)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    sys.path.insert(0, str(REPO / "src"))
    from asv.results import iter_results_for_machine

    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "results").mkdir(parents=True)
    all_commits: set[str] = set()
    for machine in args.machine:
        found = {}
        for r in iter_results_for_machine(str(results), machine):
            if all(any(key == name for key in r.get_all_result_keys()) for name in KEEP):
                found[r.commit_hash] = r.date
        newest = sorted(found, key=lambda h: found[h])[-args.commits:]
        if len(newest) < 2:
            raise SystemExit(f"machine {machine}: {len(newest)} commit(s) measured; run `make history` first")
        target = OUT / "results" / machine
        target.mkdir()
        shutil.copyfile(results / machine / "machine.json", target / "machine.json")
        for path in (results / machine).glob("*.json"):
            if path.name == "machine.json":
                continue
            data = json.loads(path.read_text())
            if data.get("commit_hash") not in newest:
                continue
            data["results"] = {k: v for k, v in data["results"].items() if k in KEEP}
            data["benchmark_version"] = {k: v for k, v in data.get("benchmark_version", {}).items() if k in KEEP}
            data["durations"] = {}
            if not data["results"]:
                continue
            (target / path.name).write_text(json.dumps(data))
            all_commits.add(data["commit_hash"])
        conditions = results.parent / "conditions"
        for path in conditions.glob("*.jsonl"):
            if any(h.startswith(path.name.split("-")[0]) for h in newest):
                classes = {k.rsplit(".", 1)[0] for k in KEEP}
                lines = [line for line in path.read_text().splitlines() if json.loads(line).get("class") in classes]
                if lines:
                    (OUT / "conditions").mkdir(exist_ok=True)
                    (OUT / "conditions" / path.name).write_text("\n".join(lines) + "\n")
    info = json.loads((results / "benchmarks.json").read_text())
    (OUT / "results" / "benchmarks.json").write_text(
        json.dumps({k: v for k, v in info.items() if k in KEEP or k == "version"}, indent=1))
    dates = {r.commit_hash: r.date for m in args.machine for r in iter_results_for_machine(str(OUT / "results"), m)}
    (OUT / "commits.json").write_text(json.dumps(sorted(all_commits, key=lambda h: dates[h]), indent=1) + "\n")
    (OUT / "machines.json").write_text(json.dumps(args.machine) + "\n")
    print(f"{OUT}: {len(all_commits)} commits, machines {', '.join(args.machine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Cross-check `embedload imports` against a direct `python -X importtime`, parsed independently.

The direct side does not use embedload's parser: it sums the self time of every line whose
top-level module is one of a few heavy packages, per run, and takes the median over runs.
`embedload imports` attributes the same self time to distributions. For each package the two
medians should agree within --tolerance (default 15%). Runs are interleaved (one of each per
round) so the machine's drift hits both alike.

    tools/crosscheck_imports.py [--runs 5] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from embedload.measure.importtime import profile_imports  # noqa: E402
from embedload.measure.runtimes import OFFLINE_ENV, get_runtime  # noqa: E402

#: distribution -> its top-level import names
PACKAGES = {"torch": ("torch",), "transformers": ("transformers",), "scipy": ("scipy",),
            "scikit-learn": ("sklearn",), "sentence-transformers": ("sentence_transformers",),
            "numpy": ("numpy",), "huggingface-hub": ("huggingface_hub",), "tokenizers": ("tokenizers",)}
LINE = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \| *(\S+)\s*$")


def direct(import_code: str, python: str) -> dict[str, float]:
    """Seconds of self time per package in one `python -X importtime -c CODE` run."""
    proc = subprocess.run([python, "-X", "importtime", "-c", import_code], capture_output=True, text=True,
                          env={**os.environ, **OFFLINE_ENV}, check=True)
    found = dict.fromkeys(PACKAGES, 0.0)
    top_to_dist = {top: dist for dist, tops in PACKAGES.items() for top in tops}
    for line in proc.stderr.splitlines():
        m = LINE.match(line)
        if m and m.group(2).split(".")[0] in top_to_dist:
            found[top_to_dist[m.group(2).split(".")[0]]] += int(m.group(1)) / 1e6
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", default="st-torch")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--tolerance", type=float, default=0.15)
    parser.add_argument("--min-seconds", type=float, default=0.05, help="skip packages below this (too small to compare)")
    args = parser.parse_args(argv)
    code = get_runtime(args.runtime).import_code
    ours, theirs = [], []
    for i in range(args.runs):
        print(f"round {i + 1}/{args.runs} ...", flush=True)
        ours.append(profile_imports(code, runs=1, python=args.python))
        theirs.append(direct(code, args.python))
    failures = 0
    print(f"attributed to named distributions by embedload: {statistics.median(r['attributed_fraction'] for r in ours):.1%}")
    print(f"{'':<6} {'distribution':<22} {'embedload':>10} {'direct':>10} {'ratio':>7}")
    for dist in PACKAGES:
        mine = statistics.median(next((d["self_seconds"] for d in r["distributions"] if d["distribution"] == dist), 0.0) for r in ours)
        direct_s = statistics.median(r[dist] for r in theirs)
        if max(mine, direct_s) < args.min_seconds:
            continue
        ratio = mine / direct_s if direct_s else float("inf")
        ok = abs(ratio - 1) <= args.tolerance
        failures += not ok
        print(f"{'[ok]' if ok else '[FAIL]':<6} {dist:<22} {mine:>9.3f}s {direct_s:>9.3f}s {ratio:>7.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

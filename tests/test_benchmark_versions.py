"""The suite's benchmark versions stay what its history was measured with.

asv hashes the source of each benchmark's method, its setup and its setup_cache into the
benchmark's version, and asv publish and asv compare drop every stored result of another
version. Renaming a module alias inside a setup (a refactor that measures nothing differently)
would cut the whole history off the dashboard. When a change of what is measured is meant, it
changes these versions on purpose: update the digest below in that change, and say so in its commit.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: sha256 of the sorted {benchmark name: asv version} of bench_load and bench_strategy, as of the
#: design with one load per sample (unchanged by the package per layer).
DIGEST = "780c9478eb35c741ab45e826bb065f539359cc567ae6e9ec2c0f3f004f6c2657"

DISCOVER = """
import json, sys
from asv_runner.discovery import disc_benchmarks
print(json.dumps({b.name: b.version for b in disc_benchmarks(sys.argv[1])
                  if b.name.startswith(("bench_load.", "bench_strategy."))}, sort_keys=True))
"""


def test_the_benchmark_versions_are_the_ones_the_history_was_measured_with():
    out = subprocess.run([sys.executable, "-c", DISCOVER, "benchmarks"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    versions = json.loads(out.stdout)
    assert len(versions) == 18, sorted(versions)
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()
    assert digest == DIGEST, "a benchmark's hashed source changed (asv drops results of its old version):\n" + \
        json.dumps(versions, indent=1, sort_keys=True)

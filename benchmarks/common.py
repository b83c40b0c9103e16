"""The suite's harness, from embedload: the one module the benchmark modules import.

Everything the benchmarks call lives in ``embedload.harness`` and ``embedload.suite``. asv runs
this folder against the embedload of the commit it measures; the suite measures commits from
the first one with one load per sample on (docs/asv.md, "Which commits the suite measures").
"""

from pathlib import Path

from embedload import harness, suite

if not hasattr(harness, "load_samples"):
    raise ImportError("this commit's embedload predates one load per sample, which this suite measures: "
                      "the suite measures commits from the one that added embedload.harness.load_samples on "
                      "(docs/asv.md)")

# asv runs benchmarks from a temporary folder: name the suite's own pyproject.toml (for
# [tool.embedload.models]) explicitly.
harness.PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

__all__ = ["harness", "suite"]

"""The suite's harness, from embedload: the one module the benchmark modules import.

Everything the benchmarks call lives in ``embedload.suite``. asv runs this folder against the
embedload of the commit it measures: the suite measures commits from the first one with one load
per sample on (docs/asv.md, "The suite's harness, and which commits it measures").
"""

import importlib.util
from pathlib import Path

if importlib.util.find_spec("embedload.base") is not None:
    from embedload.suite import classes, harness
else:
    # The same suite before embedload took a package per layer: its two modules sat at the top.
    from embedload import harness
    from embedload import suite as classes

if not hasattr(harness, "load_samples"):
    raise ImportError("this commit's embedload predates one load per sample, which this suite measures: "
                      "the suite measures commits from the one that added load_samples to its harness on "
                      "(docs/asv.md)")

# asv runs benchmarks from a temporary folder: name the suite's own pyproject.toml (for
# [tool.embedload.models]) explicitly.
harness.PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

__all__ = ["classes", "harness"]

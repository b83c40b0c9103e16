"""The suite's harness, from embedload: the one module the benchmark modules import.

Everything the benchmarks call lives in ``embedload.suite``. asv runs this folder against the
embedload of the commit it measures, so the suite measures commits from the first one with the
package ``embedload.suite`` on (docs/asv.md, "Which commits the suite measures").
"""

from pathlib import Path

try:
    from embedload.suite import classes, harness
except ImportError as exc:
    raise ImportError("this commit's embedload has no embedload.suite: the suite measures commits from the one "
                      "that added it on (docs/asv.md, \"Which commits the suite measures\")") from exc

# asv runs benchmarks from a temporary folder: name the suite's own pyproject.toml (for
# [tool.embedload.models]) explicitly.
harness.PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

__all__ = ["classes", "harness"]

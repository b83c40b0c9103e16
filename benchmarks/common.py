"""The suite's harness, from embedload: the one module the benchmark modules import.

Everything the benchmarks call lives in ``embedload.harness``. asv runs this folder against the
embedload of the commit it measures; an embedload older than ``embedload.harness`` has none, and
the suite then uses ``_before_harness.py``, the harness as the suite used to carry it (the one
fallback for older commits; docs/asv.md says which commits need it).
"""

import types
from pathlib import Path

try:
    from embedload import harness, suite
except ImportError:  # an embedload before embedload.harness and embedload.suite
    from . import _before_harness as harness

    suite = None

# asv runs benchmarks from a temporary folder: name the suite's own pyproject.toml (for
# [tool.embedload.models]) explicitly.
harness.PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

MODELS, RUNTIMES, CACHES, TIMING = harness.MODELS, harness.RUNTIMES, harness.CACHES, harness.TIMING
FIGURES = harness.FIGURES
runtimes = harness.runtimes
NotAvailable = harness.NotAvailable
resolve, measurable, loaded_folder = harness.resolve, harness.measurable, harness.loaded_folder
make_warm, make_cold_sources, recorded = harness.make_warm, harness.make_cold_sources, harness.recorded
probe_key, probe_all_combinations = harness.probe_key, harness.probe_all_combinations
# The load strategies came later: an older embedload has none, and bench_strategy then defines nothing.
STRATEGY_MODELS = getattr(harness, "STRATEGY_MODELS", ())
STRATEGIES = getattr(harness, "STRATEGIES_PARAM", ())

if suite is None:
    from . import _before_suite

    suite = types.SimpleNamespace(**{name: getattr(_before_suite, "_" + name)
                                     for name in ("Import", "Load", "Memory", "Encode", "Check")})

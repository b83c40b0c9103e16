"""``embedload profile``: the seed's standalone profiler, through the suite's own probe.

Each run is a fresh process (:func:`embedload.probe.run_probe`, the same stage source as the asv
suite); :mod:`embedload.profilefile` turns the runs into the gate's measurements.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .probe import run_probe
from .profilefile import (  # noqa: F401  (probe_figure: the name older benchmarks import from here)
    SCHEMA,
    measurements_from_profile,
    measurements_from_runs,
    probe_figure,
    profile_document,
)


def profile_runs(models, runtime: str, cache: str, runs: int, *, timeout: float,
                 progress: Callable[[str], None] | None = None, drop_caches: bool = False) -> list[dict]:
    """``runs`` fresh-process probes for each resolved model, in order, with progress lines."""
    results = []
    total = runs * len(models)
    for model in models:
        for _ in range(runs):
            result = run_probe(model, runtime, cache, timeout=timeout, drop_caches=drop_caches)
            results.append(result)
            if progress:
                s = result["stages"]
                res = result.get("residency")
                cold = f", {res['fraction_outside_harness']:.2%} resident at start" if res else ""
                progress(
                    f"[{len(results)}/{total}] {model.name} {runtime} {cache}: total {s['total']['seconds']:.2f} s "
                    f"(import {s['import']['seconds']:.2f}, init {s['init']['seconds']:.3f}, "
                    f"first encode {s['first_encode']['seconds']:.3f}{cold})"
                )
    return results


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

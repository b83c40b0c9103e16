"""One probe run as text: each stage's time and memory (``embedload probe``)."""

from __future__ import annotations

from embedload.base.catalog import STAGES
from embedload.base.units import format_bytes, format_seconds


def format_probe(result: dict) -> str:
    """One probe run: per-stage time and memory."""
    lines = [
        f"model {result['model']} ({result['model_source']}), runtime {result['runtime']}, "
        f"cache {result['cache']}, device {result['device']}, {result['threads']} threads",
        f"  {'stage':<13} {'time':>9} {'peak RSS':>9} {'peak +':>9} {'RSS after':>10}",
    ]
    for stage in STAGES:
        s = result["stages"][stage]
        lines.append(
            f"  {stage:<13} {format_seconds(s['seconds']):>9} {format_bytes(s['peak_rss']):>9} "
            f"{format_bytes(s['peak_increase']):>9} {format_bytes(s['rss_after']):>10}"
        )
    lines.append(
        f"  steady-state encode {format_seconds(result['steady_encode_median'])} (median of "
        f"{len(result['steady_encode_seconds'])}); RSS growth {format_bytes(result['rss_growth'])}; "
        f"memory via {result['memory_method']}"
    )
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v)
    lines.append(f"  python {result['python']}; {versions}")
    return "\n".join(lines)

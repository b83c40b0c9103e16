"""Human-readable renderings of probe results and asv results."""

from __future__ import annotations

import statistics
from collections import defaultdict

from .results import MEMORY_BENCHMARKS, TIMING_BENCHMARKS, CommitResults, Measurement
from .runtimes import PARTS, STAGES


def format_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}" if unit != "MB" else f"{n / scale:.0f} MB"
    return f"{n:.0f} B"


def format_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1.0:
        return f"{s * 1000:.0f} ms" if s >= 0.01 else f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


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


def _timing_cell(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if m.status != "ok":
        return m.status
    spread = m.spread()
    n = len(m.samples) if m.samples else None
    cell = format_seconds(m.value)
    if spread:
        cell += f" ±{format_seconds((spread[1] - spread[0]) / 2)}"
    return cell + (f" (n={n})" if n else "")


def format_results_table(results: CommitResults) -> str:
    """The suite's results for one commit: a row per model/runtime/cache, stage medians as columns."""
    timing: dict[tuple, dict[str, Measurement]] = defaultdict(dict)
    imports: dict[tuple, Measurement] = {}
    memory: dict[tuple, dict[str, Measurement]] = defaultdict(dict)
    others = []
    for m in results.measurements:
        p = m.params
        if m.benchmark == "bench_timing.Import.timeraw_import":
            imports[(p.get("runtime"), p.get("cache"))] = m
        elif m.benchmark in TIMING_BENCHMARKS:
            timing[(p.get("model"), p.get("runtime"), p.get("cache"))][TIMING_BENCHMARKS[m.benchmark]] = m
        elif m.benchmark in MEMORY_BENCHMARKS:
            memory[(p.get("model"), p.get("runtime"), p.get("cache"))][MEMORY_BENCHMARKS[m.benchmark]] = m
        else:
            others.append(m)

    rows = []
    for key in sorted(set(timing) | set(memory)):
        model, runtime, cache = key
        cells = {**timing.get(key, {}), "import": imports.get((runtime, cache))}
        mem = memory.get(key, {})
        if not any(c is not None and c.status == "ok" for c in (*cells.values(), *mem.values())):
            continue
        peak = mem.get("peak_rss_total")
        growth = mem.get("rss_growth")
        rows.append(
            [model, runtime, cache]
            + [_timing_cell(cells.get(stage)) for stage in STAGES]
            + [format_bytes(peak.value) if peak and peak.status == "ok" else "-",
               format_bytes(growth.value) if growth and growth.status == "ok" else "-"]
        )
    env = sorted({f"{k}={v}" for m in results.measurements for k, v in m.env_vars.items()})
    out = [f"asv results for {results.commit[:8]} on machine {results.machine}" + (f" ({', '.join(env)})" if env else "")]
    if rows:
        header = ["model", "runtime", "cache", *STAGES, "peak RSS", "RSS growth"]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        out.append("  ".join("-" * w for w in widths))
        out.extend("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows)
        out.append("times: median ±half the interquartile range over n fresh processes; memory: median of the probe's runs")
        out.extend(_consistency_lines(timing, imports))
    else:
        out.append("no measured results for our suite's benchmarks")

    out.extend(format_not_measured(results.measurements))
    if results.versions:
        out.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(results.versions.items()) if v))
    return "\n".join(out)


def format_not_measured(measurements: list[Measurement], examples: int = 3) -> list[str]:
    """Skipped and failed combinations, grouped by reason, with a few examples of each."""
    lines = []
    for status, title in (("failed", "FAILED"), ("skipped", "skipped")):
        by_reason: dict[str, list[Measurement]] = defaultdict(list)
        for m in measurements:
            if m.status == status:
                by_reason[m.reason].append(m)
        if not by_reason:
            continue
        lines.append(f"{title}: {sum(len(v) for v in by_reason.values())} benchmark/param combinations")
        for reason, ms in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {len(ms):>4} × {reason}")
            if status == "failed":
                shown = ", ".join(m.label for m in ms[:examples])
                lines.append(f"         e.g. {shown}" + (f" (+{len(ms) - examples} more)" if len(ms) > examples else ""))
    return lines


def _consistency_lines(timing, imports) -> list[str]:
    """Sum of the stage medians against the total's median: the stages should add up."""
    lines = []
    for (model, runtime, cache), cells in sorted(timing.items()):
        parts = [cells.get(p) if p != "import" else imports.get((runtime, cache)) for p in PARTS]
        total = cells.get("total")
        if total is None or total.status != "ok" or any(p is None or p.status != "ok" for p in parts):
            continue
        summed = sum(p.value for p in parts)
        lines.append(
            f"check {model}/{runtime}/{cache}: import+init+first_encode = {format_seconds(summed)}, "
            f"total = {format_seconds(total.value)} (ratio {summed / total.value:.3f})"
        )
    return lines


def median(values):
    return statistics.median(values) if values else None

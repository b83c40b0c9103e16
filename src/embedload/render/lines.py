"""Lines both the results table and the gate report print: a timing cell, the strategy rows, the
machine's conditions, and what was not measured."""

from __future__ import annotations

from collections import Counter, defaultdict

from embedload.base.units import format_bytes, format_seconds
from embedload.measure.conditions import MAX_OTHER_CORES, MAX_STEAL, Conditions
from embedload.results.asv_results import NOT_RUN, Measurement


def timing_cell(stat) -> str:
    if stat is None:
        return "-"
    cell = format_seconds(stat.median)
    if stat.half_iqr is not None:
        cell += f" ±{format_seconds(stat.half_iqr)}"
    return cell + (f" (n={stat.n})" if stat.n else "")


STRATEGY_HEADER = ("model", "runtime", "cache", "strategy", "ready", "first vector", "foreground ×", "app peak RSS",
                   "server RSS")


def strategy_table(rows) -> list[list[str]]:
    """One line per strategy row: ready and first vector (median ± half IQR, n), the foreground
    task's slowdown while the model loads, memory per application process and the server's, once."""
    return [
        [r.model, r.runtime, r.cache, r.strategy, timing_cell(r.timings.get("ready")),
         timing_cell(r.timings.get("first_vector")),
         f"{r.figures['foreground_slowdown']:.2f}" if "foreground_slowdown" in r.figures else "-",
         format_bytes(r.figures.get("app_peak_rss")), format_bytes(r.figures.get("server_rss"))]
        for r in rows
    ]


STRATEGY_NOTE = ("ready: until a request that needs no embedding can be served; first vector: until the first "
                 "embedding; both from the start-up's first statement. foreground ×: the fixed foreground task's "
                 "time right after ready over its time alone (docs/strategies.md)")


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
            elif reason.startswith(NOT_RUN):
                per = Counter(m.benchmark for m in ms)
                shown = ", ".join(f"{name} ({n})" for name, n in per.most_common(examples))
                lines.append(f"         in {shown}" + (f" (+{len(per) - examples} more)" if len(per) > examples else ""))
    return lines


def conditions_lines(conditions: list[tuple[str, str, Conditions]]) -> list[str]:
    """What else the machine did while the timings ran: the disturbed ones, or one line saying it was quiet."""
    if not conditions:
        return ["not recorded (results of another suite, or of an embedload before conditions were kept): "
                "nothing says whether the machine was quiet"]
    disturbed: dict[tuple[str, str], list[str]] = {}
    for side, label, c in conditions:
        if c.disturbed:  # figures measured in the same runs share their conditions: said once
            disturbed.setdefault((side, c.describe()), []).append(label)
    if disturbed:
        return [f"⚠ {labels[0]}" + (f" and {len(labels) - 1} more figure(s) of the same runs" if len(labels) > 1 else "")
                + f" [{side}]: {text}" for (side, text), labels in disturbed.items()]
    worst = max(c.other_cores for _, _, c in conditions)
    steal = max(c.steal for _, _, c in conditions)
    return [f"quiet: {len(conditions)} timing(s) recorded, other processes at most {worst:.2f} cores on average "
            f"over a benchmark's rounds (limit {MAX_OTHER_CORES}), steal at most {steal:.1%} (limit {MAX_STEAL:.0%})"]

"""The gate's and the profiler's report (:class:`~embedload.judge.verdicts.Report`) in four formats:
text, markdown, JSON and JUnit."""

from __future__ import annotations

import json
from collections import defaultdict

from asv import util
from tabulate import tabulate

from embedload.base.power import floor, slowdown_text
from embedload.base.units import format_bytes, format_seconds
from embedload.judge.verdicts import Comparison, Report, TargetCheck
from embedload.render.lines import STRATEGY_HEADER, STRATEGY_NOTE, conditions_lines, format_not_measured, strategy_table

RULE = "=" * 80
THIN = "-" * 80
STAGE_LABELS = {
    "total": "Total Load Time",
    "import": "Import Time",
    "init": "Model Init Time",
    "first_encode": "First Encode Time",
}
TREE = {"total": "", "import": "├─ ", "init": "├─ ", "first_encode": "└─ "}


def _stat_line(stat) -> str:
    text = format_seconds(stat.median)
    if stat.half_iqr is not None:
        text += f" ± {format_seconds(stat.half_iqr)}"
    extra = []
    if stat.low is not None:
        extra.append(f"range {format_seconds(stat.low)}–{format_seconds(stat.high)}")
    if stat.mean is not None:
        extra.append(f"mean {format_seconds(stat.mean)}")
    if stat.stdev is not None:
        extra.append(f"stdev {format_seconds(stat.stdev)}")
    if stat.n:
        extra.append(f"n={stat.n}")
    return text + (f"  ({', '.join(extra)})" if extra else "")


def short_commit(commit: str) -> str:
    """A hash shortened to 12 digits; anything else (e.g. "(working tree)") as it is."""
    return commit[:12] if len(commit) > 12 and all(c in "0123456789abcdef" for c in commit) else commit


def render_text(report: Report) -> str:
    out = [RULE, "PROFILING RESULTS" if report.source == "profile" else "EMBEDLOAD GATE", RULE]
    env = ", ".join(f"{k}={v}" for k, v in sorted(report.env.items()))
    out.append(f"commit {short_commit(report.commit)} on {report.machine}" + (f" ({env})" if env else ""))
    if report.baseline:
        out.append(f"baseline {report.baseline}; threshold {report.threshold:g}×")
    for row in report.rows:
        out += ["", f"📋 Summary ({row.cache.upper()} START)", f"   Model: {row.model}", f"   Runtime: {row.runtime_label}"]
        ns = {s.n for s in row.timings.values() if s.n}
        if ns:
            out.append(f"   Samples: {'/'.join(str(n) for n in sorted(ns))} fresh processes, each one sample of every stage")
        out += ["", "⏱️  Timing Breakdown (median ± half IQR)", THIN]
        for stage in ("total", "import", "init", "first_encode"):
            stat = row.timings.get(stage)
            label = f"{TREE[stage]}{STAGE_LABELS[stage]}:"
            out.append(f"   {label:<22} {_stat_line(stat) if stat else 'not measured'}")
        steady = row.probe.get("steady_encode")
        if steady is not None:
            out.append(f"   {'Steady-state encode:':<22} {format_seconds(steady)}")
        mem = [(k, row.probe.get(k)) for k in ("rss_growth", "peak_rss_total", "peak_rss_import", "peak_rss_init", "peak_rss_first_encode")]
        if any(v is not None for _k, v in mem):
            out += ["", "💾 Memory Usage", THIN]
            names = {
                "rss_growth": "Memory Delta (RSS growth)",
                "peak_rss_total": "Peak RSS (whole load)",
                "peak_rss_import": "Peak RSS in import",
                "peak_rss_init": "Peak RSS in init",
                "peak_rss_first_encode": "Peak RSS in first encode",
            }
            out.extend(f"   {names[k] + ':':<28} {format_bytes(v)}" for k, v in mem if v is not None)
        checks = [c for c in report.checks if c.row == row.label]
        if checks:
            out += ["", "🎯 Performance vs Targets", THIN]
            for c in checks:
                value, target = _check_figures(c)
                out.append(f"   {'✓' if c.passed else '✗'} {c.label:<18} {value} / {target} target")
    if report.comparisons:
        out += ["", f"📈 Compared with {report.baseline}", THIN]
        for c in shown_comparisons(report):
            out.append(f"   {_comparison_mark(c)} {c.status:<14} {_ratio_text(c):>7}  {c.name}  [{test_text(c)}]")
        out.append(f"   {comparison_tally(report)}")
        out += [f"   ⓘ {note}" for note in report.timing_notes]
        if report.powered:
            out += ["", f"🔎 {POWER_TITLE}", THIN]
            out += [f"   {'✓' if c.power.resolves_threshold else '⚠'} {c.name}: {c.power.describe()}" for c in report.powered]
    if report.strategies:
        table = tabulate(strategy_table(report.strategies), headers=STRATEGY_HEADER, tablefmt="simple", disable_numparse=True)
        out += ["", "🚦 Load strategies", THIN] + ["   " + line for line in table.splitlines()] + ["   " + STRATEGY_NOTE]
    out += ["", "🌡️ Conditions", THIN] + ["   " + line for line in conditions_lines(report.conditions)]
    not_measured = format_not_measured(report.not_measured)
    if not_measured:
        out += ["", "🚫 Not measured", THIN] + ["   " + line for line in not_measured]
    if report.recommendations:
        out += ["", "💡 Recommendations", THIN] + [f"   • {r}" for r in report.recommendations]
    if report.versions:
        out += ["", "versions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.versions.items()) if v)]
    out += ["", report.verdict]
    return "\n".join(out)


POWER_TITLE = "Smallest slowdown each comparison could see (flagged 9 times in 10, at its own noise)"


#: Statuses shown one per line; the rest are counted.
SHOWN_STATUSES = ("regressed", "newly-failed", "improved", "fixed", "insignificant", "not-comparable")


def shown_comparisons(report: Report) -> list:
    return [c for c in report.comparisons if c.status in SHOWN_STATUSES]


def comparison_tally(report: Report) -> str:
    """The comparisons not listed one by one, counted: what 'unchanged' covers, said plainly."""
    counts: dict[str, int] = defaultdict(int)
    for c in report.comparisons:
        if c.status not in SHOWN_STATUSES:
            counts[c.status] += 1
    half = f"{(floor(report.threshold) - 1) * 100:.3g}%"
    words = {"unchanged": f"unchanged (no significant change of {half} or more; figures without samples: within "
                          f"{report.threshold:g}×)",
             "n/a": "skipped or absent on one side (not compared)", "both-failed": "failed on both sides"}
    parts = [f"{counts[s]} {words[s]}" for s in ("unchanged", "n/a", "both-failed") if counts[s]]
    return "; ".join(parts) if parts else "every compared benchmark is listed above"


def _check_figures(c: TargetCheck) -> tuple[str, str]:
    """A target check's measured value and its target, as written in every format."""
    target = f"{c.target:g} MB" if c.unit == "MB" else format_seconds(c.target)
    if not c.gated:
        target += " (embedload's default, not gated)"
    return (format_bytes(c.value * 1e6) if c.unit == "MB" else format_seconds(c.value)), target


def _comparison_mark(c: Comparison) -> str:
    return {"regressed": "✗", "newly-failed": "✗", "improved": "↑", "fixed": "↑"}.get(c.status, "·")


def test_text(c: Comparison) -> str:
    """How the verdict was reached, and asv's verdict of the same pair: "u-holm p=0.0031; asv compare: ~"."""
    text = c.test
    if c.p_values is not None:
        text += f" p={min(c.p_values):.2g} {'slower' if c.p_values[0] <= c.p_values[1] else 'faster'}"
    return text + f"; asv compare: {ASV_WORDS.get(c.asv_status, c.asv_status)}"


#: ``asv compare``'s marks, for its verdict shown beside the gate's.
ASV_WORDS = {"regressed": "+ (regressed)", "improved": "- (improved)", "insignificant": "~ (not significant)",
             "unchanged": "unchanged", "not-comparable": "x (not comparable)", "newly-failed": "! (failed)",
             "fixed": "* (fixed)"}


def _ratio_text(c: Comparison) -> str:
    if c.ratio is None:
        return "n/a"
    return f"{c.ratio:.2f}×" if c.ratio >= 0.01 else f"{c.ratio:.2g}×"


def render_markdown(report: Report) -> str:
    code = report.exit_code
    icon = {0: "✅", 1: "❌", 2: "⚠️"}[code] if report.fail_on or code else "📋"  # 📋: a report, nothing gated
    out = [f"## {icon} embedload: {report.verdict}", ""]
    env = ", ".join(f"`{k}={v}`" for k, v in sorted(report.env.items()))
    out.append(f"Commit `{short_commit(report.commit)}` on `{report.machine}`" + (f" ({env})" if env else "")
               + (f", baseline `{report.baseline}`, threshold {report.threshold:g}×" if report.baseline else ""))
    if report.rows:
        out += ["", "| model | runtime | cache | import | init | first encode | total | RSS growth | peak RSS |",
                "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        for row in report.rows:
            cells = [
                (format_seconds(row.timings[s].median) + (f" ± {format_seconds(row.timings[s].half_iqr)}" if row.timings[s].half_iqr is not None else ""))
                if s in row.timings else "–"
                for s in ("import", "init", "first_encode", "total")
            ]
            out.append(f"| {row.model} | {row.runtime_label} | {row.cache} | " + " | ".join(cells)
                       + f" | {format_bytes(row.probe.get('rss_growth'))} | {format_bytes(row.probe.get('peak_rss_total'))} |")
    if report.checks:
        out += ["", "### Targets", "", "| | model / runtime / cache | metric | measured | target |", "|---|---|---|---:|---:|"]
        for c in report.checks:
            value, target = _check_figures(c)
            out.append(f"| {'✅' if c.passed else '❌'} | {c.row} | {c.label} | {value} | {target} |")
    if report.comparisons:
        changed = shown_comparisons(report)
        out += ["", f"### Compared with `{report.baseline}`", ""]
        if changed:
            out += ["| | benchmark | baseline | current | ratio | test |", "|---|---|---:|---:|---:|---|"]
            for c in changed:
                out.append(f"| {c.status} | `{c.name}` | {_compared_value(c.baseline, c.unit, c.status, 'baseline')} | "
                           f"{_compared_value(c.current, c.unit, c.status, 'current')} | {_ratio_text(c)} | {test_text(c)} |")
        out.append(f"\n{comparison_tally(report)}")
        out += [f"\nⓘ {note}" for note in report.timing_notes]
        if report.powered:
            out += ["", f"#### {POWER_TITLE}", "", "| | benchmark | sees from | noise | samples | |", "|---|---|---:|---:|---:|---|"]
            for c in report.powered:
                p = c.power
                seen = slowdown_text(1 + p.detectable) if p.detectable is not None else "nothing"
                out.append(f"| {'✅' if p.resolves_threshold else '⚠️'} | `{c.name}` | {seen} | {p.noise:.1%} | "
                           f"{p.n_current}+{p.n_baseline} | {p.shortfall()} |")
    if report.strategies:
        out += ["", "### Load strategies", "", "| " + " | ".join(STRATEGY_HEADER) + " |",
                "|" + "---|" * 4 + "---:|" * (len(STRATEGY_HEADER) - 4)]
        out += ["| " + " | ".join(cells) + " |" for cells in strategy_table(report.strategies)]
        out += ["", STRATEGY_NOTE]
    out += ["", "### Conditions", ""] + [f"- {line}" for line in conditions_lines(report.conditions)]
    not_measured = format_not_measured(report.not_measured)
    if not_measured:
        out += ["", "<details><summary>Not measured</summary>", "", "```"] + not_measured + ["```", "</details>"]
    if report.recommendations:
        out += ["", "### Recommendations", ""] + [f"- {r}" for r in report.recommendations]
    return "\n".join(out) + "\n"


def _compared_value(v, unit, status: str = "", side: str = "") -> str:
    """A compared benchmark's value as asv compare writes it (``util.human_value``): any suite's units."""
    if v is None:
        failed_here = {"newly-failed": "current", "fixed": "baseline"}.get(status) == side or status == "both-failed"
        return "failed" if failed_here else "–"
    return util.human_value(v, unit)


def report_to_dict(report: Report) -> dict:
    """The JSON format; its schema is docs/gate-report.schema.json."""
    return {
        "schema": "embedload.gate/2",
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "problems": report.problems,
        "commit": report.commit,
        "machine": report.machine,
        "source": report.source,
        "env": report.env,
        "versions": report.versions,
        "baseline": report.baseline,
        "threshold": report.threshold,
        "fail_on": list(report.fail_on),
        "rows": [
            {"model": r.model, "runtime": r.runtime, "strategy": r.strategy, "cache": r.cache,
             "timings": {s: st.as_dict() for s, st in r.timings.items()}, "probe": r.probe}
            for r in report.rows
        ],
        "strategies": [
            {"model": r.model, "runtime": r.runtime, "cache": r.cache, "strategy": r.strategy,
             "timings": {f: st.as_dict() for f, st in r.timings.items()}, "figures": r.figures}
            for r in report.strategies
        ],
        "targets": [
            {"row": c.row, "metric": c.metric, "value": c.value, "target": c.target, "unit": c.unit, "passed": c.passed,
             "gated": c.gated}
            for c in report.checks
        ],
        "comparisons": [
            {"benchmark": c.name, "asv_name": c.asv_name, "unit": c.unit, "baseline": c.baseline, "current": c.current,
             "ratio": c.ratio, "status": c.status, "test": c.test, "sides": c.sides, "asv_status": c.asv_status,
             "p_slower": c.p_values[0] if c.p_values else None, "p_faster": c.p_values[1] if c.p_values else None,
             "env": c.env, "baseline_env": c.baseline_env, "power": c.power.as_dict() if c.power is not None else None}
            for c in report.comparisons
        ],
        "timing_notes": report.timing_notes,
        "allow_failures": report.allow_failures,
        "not_measured": [
            {"benchmark": m.benchmark, "params": m.params, "status": m.status, "reason": m.reason}
            for m in report.not_measured
        ],
        "recommendations": report.recommendations,
        "conditions": {
            "recorded": bool(report.conditions),
            "disturbed": bool(report.disturbed),
            "benchmarks": [{"benchmark": label, "side": side, **c.as_dict()} for side, label, c in report.conditions],
        },
    }


def render_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2) + "\n"


def render_junit(report: Report) -> str:
    """One test case per target and per regression check; failed benchmarks as errors."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="embedload")

    def suite(name, cases):
        el = ET.SubElement(root, "testsuite", name=name, tests=str(len(cases)),
                           failures=str(sum(1 for c in cases if c[2] == "failure")),
                           errors=str(sum(1 for c in cases if c[2] == "error")),
                           skipped=str(sum(1 for c in cases if c[2] == "skipped")))
        for classname, case_name, kind, message in cases:
            tc = ET.SubElement(el, "testcase", classname=classname, name=case_name)
            if kind in ("failure", "error", "skipped"):
                ET.SubElement(tc, kind, message=message).text = message
            else:
                ET.SubElement(tc, "system-out").text = message

    suite("embedload.targets", [
        (f"targets.{c.row}", f"{c.metric} <= {c.target:g} {c.unit}",
         "pass" if c.passed else "failure" if c.gated else "skipped",
         f"{c.label}: measured {c.value:.4g} {c.unit}, target {c.target:g} {c.unit}"
         + ("" if c.gated else " (embedload's default, not gated)"))
        for c in report.checks
    ])
    suite("embedload.regressions", [_junit_comparison(c, report) for c in report.comparisons])
    suite("embedload.benchmarks", [
        ("benchmarks", m.label, "error" if m.status == "failed" else "skipped", m.reason)
        for m in report.not_measured
    ] + [("gate", "can judge", "error", p) for p in report.problems])
    suite("embedload.conditions", [
        (f"conditions.{side}", label, "skipped" if c.disturbed else "pass", c.describe())
        for side, label, c in report.conditions
    ])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_comparison(c: Comparison, report: Report) -> tuple[str, str, str, str]:
    """One regression check as a junit case: failure only for a gated regression."""
    gated = "regressions" in report.fail_on
    if c.status == "regressed":
        kind = "failure" if gated else "pass"
        message = (f"regressed: {_ratio_text(c)} the baseline {report.baseline} "
                   f"({test_text(c)}, threshold {report.threshold:g})")
    elif c.status == "newly-failed":
        kind = "pass" if report.allow_failures else "error"
        message = f"newly failed: failed in the current results, measured in the baseline {report.baseline}"
    elif c.status == "both-failed":
        kind = "pass" if report.allow_failures else "error"
        message = "failed in both the current results and the baseline"
    elif c.status in ("n/a", "not-comparable"):
        kind = "skipped"
        message = ("not compared: skipped or absent on one side" if c.status == "n/a"
                   else "not compared: the benchmark's code changed (asv version)")
    else:
        kind = "pass"
        message = f"{c.status}: {_ratio_text(c)} the baseline {report.baseline} ({test_text(c)}, threshold {report.threshold:g})"
    if c.power is not None:
        message += f"; {c.power.describe()}"
    return "regressions", c.name, kind, message


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json, "junit": render_junit}

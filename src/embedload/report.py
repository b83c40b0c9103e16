"""Human-readable renderings of probe results and asv results."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from asv import util
from tabulate import tabulate

from .catalog import PARTS, STAGES, before_one_load
from .conditions import MAX_OTHER_CORES, MAX_STEAL, Conditions
from .gate import Comparison, Report, TargetCheck
from .loadrows import rows_from_measurements, stages_add_up, strategy_rows
from .power import floor, slowdown_text
from .recommend import model_comparison, runtime_comparison, strategy_comparison
from .results import NOT_RUN, CommitResults, Measurement
from .units import format_bytes, format_seconds


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


def _timing_cell(stat) -> str:
    if stat is None:
        return "-"
    cell = format_seconds(stat.median)
    if stat.half_iqr is not None:
        cell += f" ±{format_seconds(stat.half_iqr)}"
    return cell + (f" (n={stat.n})" if stat.n else "")


def measured_interpreters(measurements) -> int:
    """Fresh interpreters behind the measurements: per combination, the most any of its benchmark classes
    recorded (the classes of a combination read the same rounds)."""
    per_combination: dict[tuple, int] = {}
    for m in measurements:
        if m.conditions is not None and m.conditions.samples:
            key = (m.env_name, m.benchmark.partition(".")[0], tuple(sorted(m.params.items())))
            per_combination[key] = max(per_combination.get(key, 0), m.conditions.samples)
    return sum(per_combination.values())


def format_results_table(results: CommitResults, strategies: dict[str, str] | None = None) -> str:
    """The suite's results for one commit: a row per model/runtime/cache, stage medians as columns."""
    rows = rows_from_measurements(results.measurements, strategies)
    env = sorted({f"{k}={v}" for m in results.measurements for k, v in m.env_vars.items()})
    out = [f"asv results for {results.commit[:8]} on machine {results.machine}" + (f" ({', '.join(env)})" if env else "")]
    if rows:
        stacks = any(r.stack for r in rows)
        header = ["model", "runtime", "cache", *STAGES, "peak RSS", "RSS growth", "cos vs st-torch"] + (["stack"] if stacks else [])
        table = [
            [r.model, r.runtime_label, r.cache, *(_timing_cell(r.timings.get(s)) for s in STAGES),
             format_bytes(r.probe.get("peak_rss_total")), format_bytes(r.probe.get("rss_growth")),
             f"{r.probe['vector_cosine']:.6f}" if "vector_cosine" in r.probe else "-"] + ([r.stack] if stacks else [])
            for r in rows
        ]
        out.append(tabulate(table, headers=header, tablefmt="simple", disable_numparse=True))
        out.append("times: median ±half the interquartile range over n fresh processes; memory: median over the same processes")
        for r in rows:
            ratio = stages_add_up(r)
            if ratio is not None:
                summed = sum(r.seconds(p) for p in PARTS)
                out.append(
                    f"check {r.label}: import+init+first_encode = {format_seconds(summed)}, "
                    f"total = {format_seconds(r.seconds('total'))} (ratio {ratio:.3f})"
                )
    srows = strategy_rows(results.measurements)
    if srows:
        out += ["", "load strategies:", tabulate(strategy_table(srows), headers=STRATEGY_HEADER, tablefmt="simple",
                                                 disable_numparse=True), STRATEGY_NOTE]
        out += [f"  {line}" for line in strategy_comparison(srows)]
    if rows or srows:
        recorded = [("this run", m.label, m.conditions) for m in results.measurements if m.conditions is not None]
        out += ["conditions: " + line for line in conditions_lines(recorded)]
        interpreters = measured_interpreters(results.measurements)
        if interpreters:
            out.append(f"samples: {interpreters} measured fresh interpreters in the latest asv run of each combination, "
                       "each one sample of every figure of its combination")
    else:
        out.append("no measured results for the suite's benchmarks")
    before = sorted({m.benchmark.partition(".")[0] for m in results.measurements if before_one_load(m.benchmark)})
    if before:
        out.append(f"not shown: results of {', '.join(before)}, the design before one load per sample (each stage in "
                   "processes of its own); they are not one series with today's figures (docs/asv.md)")
    comparison = runtime_comparison(rows)
    if comparison:
        out.append("runtimes compared (same results):")
        out.extend(f"  {line}" for line in comparison)
    models = model_comparison(rows)
    if models:
        out.append("models compared (same results; rows measured by different asv runs of this commit saw the "
                   "machine at different times):")
        out.extend(f"  {line}" for line in models)
    out.extend(format_not_measured(results.measurements))
    by_env = results.versions_by_env or ({"": results.versions} if results.versions else {})
    for env_name, versions in sorted(by_env.items()):
        label = f"versions ({env_name})" if len(by_env) > 1 else "versions"
        out.append(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v))
    return "\n".join(out)


STRATEGY_HEADER = ("model", "runtime", "cache", "strategy", "ready", "first vector", "foreground ×", "app peak RSS",
                   "server RSS")


def strategy_table(rows) -> list[list[str]]:
    """One line per strategy row: ready and first vector (median ± half IQR, n), the foreground
    task's slowdown while the model loads, memory per application process and the server's, once."""
    return [
        [r.model, r.runtime, r.cache, r.strategy, _timing_cell(r.timings.get("ready")),
         _timing_cell(r.timings.get("first_vector")),
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


# ---------------------------------------------------------------------------------------------
# The gate's and the profiler's report, in four formats. One gate.Report, whatever its source.

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
            out.append(f"   Samples: {'/'.join(str(n) for n in sorted(ns))} fresh processes per stage")
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

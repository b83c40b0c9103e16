"""The smallest slowdown a comparison could have seen, from the noise of its own samples.

A PASS says nothing unless the run could have seen a slowdown. For two sets of samples the gate
judges (asv's Mann-Whitney U, two-sided, p < 0.002), this module states the *minimum detectable
slowdown*: the smallest true slowdown that the test would call significant 9 times in 10 at the
noise measured on both sides. It is the textbook two-sample figure, on logarithms (so that it is
a ratio), with the Mann-Whitney test's efficiency against the t-test on normal data (3/π):

    noise  σ = pooled standard deviation of log(samples), both sides around their own means
    se     = σ · sqrt(1/n + 1/m) · sqrt(π/3)
    δ      = (z[1 - 0.002/2] + z[0.9]) · se          detectable slowdown = exp(δ) - 1

With fewer samples than the U test needs to reach p < 0.002 at all (7 a side), nothing is
detectable. The gate flags a slowdown when it is significant *and* beyond ``--threshold``; when
the detectable slowdown is above the threshold, a slowdown of the threshold's size could have
gone unseen, and :func:`samples_needed` says how many samples a side would resolve it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: asv's significance level (``asv._stats.is_different``), two-sided.
P_THRESHOLD = 0.002
#: How often a slowdown of the stated size is flagged.
POWER = 0.9
_Z = NormalDist().inv_cdf(1 - P_THRESHOLD / 2) + NormalDist().inv_cdf(POWER)
#: The U test's asymptotic efficiency against the t-test on normal data is 3/π.
_MW_VARIANCE = math.pi / 3


@dataclass(frozen=True)
class Power:
    n_current: int
    n_baseline: int
    #: pooled standard deviation of the log samples (≈ the relative spread of one sample)
    noise: float
    #: smallest slowdown (current / baseline - 1) flagged as significant 9 times in 10; None: none can be
    detectable: float | None
    threshold: float
    #: samples a side that would make ``detectable`` reach the threshold's slowdown at this noise
    needed: int | None

    @property
    def resolves_threshold(self) -> bool:
        return self.detectable is not None and self.detectable <= self.threshold - 1

    def shortfall(self) -> str:
        """What this run could have missed, or "" when it resolves the threshold's slowdown."""
        if self.resolves_threshold:
            return ""
        threshold = slowdown_text(self.threshold)
        why = "" if self.detectable is not None else f" (the U test needs {min_samples()} samples a side to reach p < {P_THRESHOLD})"
        more = f"; about {self.needed} samples a side would see {threshold}" if self.needed else ""
        return f"a slowdown of {threshold} could have gone unseen{why}{more}"

    def describe(self) -> str:
        """One line: what this run could see, and what it would take to see the threshold's size."""
        sides = f"noise {self.noise:.1%} per sample, {self.n_current}+{self.n_baseline} samples"
        seen = "sees no slowdown" if self.detectable is None else f"sees slowdowns from {slowdown_text(1 + self.detectable)}"
        return f"{seen} ({sides})" + (f": {self.shortfall()}" if self.shortfall() else "")

    def as_dict(self) -> dict:
        return {"n_current": self.n_current, "n_baseline": self.n_baseline, "noise": self.noise,
                "detectable": self.detectable, "resolves_threshold": self.resolves_threshold, "samples_needed": self.needed}


def slowdown_text(ratio: float) -> str:
    """1.05 -> "+5%"."""
    return f"+{(ratio - 1) * 100:.3g}%"


def _logs(samples) -> list[float]:
    return [math.log(x) for x in samples if x is not None and not math.isnan(x) and x > 0]


def pooled_noise(current, baseline) -> float | None:
    """Pooled standard deviation of log(samples); None with fewer than 2 samples a side."""
    a, b = _logs(current), _logs(baseline)
    if len(a) < 2 or len(b) < 2:
        return None
    ss = sum((x - sum(a) / len(a)) ** 2 for x in a) + sum((x - sum(b) / len(b)) ** 2 for x in b)
    return math.sqrt(ss / (len(a) + len(b) - 2))


def can_reject(n: int, m: int) -> bool:
    """Whether the two-sided U test can reach p < P_THRESHOLD at all: 2 / C(n+m, n) < P_THRESHOLD."""
    return n > 0 and m > 0 and 2 / math.comb(n + m, n) < P_THRESHOLD


def min_samples() -> int:
    """The fewest samples a side with which the U test can ever be significant."""
    n = 1
    while not can_reject(n, n):
        n += 1
    return n


def detectable_slowdown(noise: float, n: int, m: int) -> float | None:
    if not can_reject(n, m):
        return None
    return math.exp(_Z * noise * math.sqrt(1 / n + 1 / m) * math.sqrt(_MW_VARIANCE)) - 1


def samples_needed(noise: float, threshold: float) -> int | None:
    """Samples a side (equal sides) for ``detectable_slowdown`` to reach threshold - 1; None if threshold <= 1."""
    if threshold <= 1:
        return None
    if noise == 0:
        return min_samples()
    n = math.ceil(2 * _MW_VARIANCE * (_Z * noise / math.log(threshold)) ** 2)
    return max(n, min_samples())


def stated_power(current, baseline, threshold: float) -> Power | None:
    """The power of one comparison, or None when a side has no samples (a figure measured once)."""
    noise = pooled_noise(current or [], baseline or [])
    if noise is None:
        return None
    n, m = len(_logs(current)), len(_logs(baseline))
    return Power(n, m, noise, detectable_slowdown(noise, n, m), threshold, samples_needed(noise, threshold))

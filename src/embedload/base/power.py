"""The gate's test of a sampled comparison, and the smallest slowdown it could have seen.

**The test.** asv's own Mann-Whitney U (``asv._stats.mann_whitney_u``, the test ``asv compare``
uses), read one-sided in each direction, at a *family* level: across the k comparisons of one
gate run that have samples on both sides, Holm's step-down procedure keeps the chance of any
false alarm in a run at most :data:`FAMILY_ALPHA` per direction. asv itself asks two-sided
p < 0.002 of every comparison alone, which at this machine's ~10% noise per sample needs about
45 samples a side to see +10%; the family level needs about 20 for two comparisons. A
comparison regresses when its slower-side p-value passes Holm *and* its median ratio is at least
halfway to the threshold (:func:`floor`): a significant but tiny change is not a regression.

**The stated power** (the *minimum detectable slowdown*): the smallest true slowdown this test
flags 9 times in 10 at the noise measured on both sides, with the comparison's share of the
family level (``FAMILY_ALPHA / k``, Holm's first step, so the figure is never optimistic). On
logarithms, with the U test's efficiency against the t-test on normal data (3/π):

    noise  σ = pooled standard deviation of log(samples), both sides around their own means
    se     = σ · sqrt(1/n + 1/m) · sqrt(π/3)
    δ      = max(z[1 - α/k] · se, ln floor) + z[0.9] · se      detectable slowdown = exp(δ) - 1

With fewer samples than the U test needs to reach α/k at all, nothing is detectable. When the
detectable slowdown is above the threshold, a slowdown of the threshold's size could have gone
unseen, and :func:`samples_needed` says how many samples a side would resolve it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: The chance of one or more false alarms per gate run (and direction), over all its sampled comparisons.
FAMILY_ALPHA = 0.05
#: How often a slowdown of the stated size is flagged.
POWER = 0.9
#: asv's own level (``asv._stats.is_different``, two-sided), for the verdict shown beside the gate's.
ASV_P_THRESHOLD = 0.002
#: The U test's asymptotic efficiency against the t-test on normal data is 3/π.
_MW_VARIANCE = math.pi / 3
_Z_POWER = NormalDist().inv_cdf(POWER)
#: Beyond a ratio of e^20 (or a million samples a side) a figure says nothing: "no slowdown" instead.
_MAX_LOG_RATIO = 20.0
_MAX_SAMPLES = 1_000_000


def floor(threshold: float) -> float:
    """The ratio a significant slowdown must reach to count: halfway to the threshold (1.1 -> 1.05)."""
    return 1 + (threshold - 1) / 2


@dataclass(frozen=True)
class Power:
    n_current: int
    n_baseline: int
    #: pooled standard deviation of the log samples (≈ the relative spread of one sample)
    noise: float
    #: smallest slowdown (current / baseline - 1) flagged 9 times in 10; None: none can be
    detectable: float | None
    threshold: float
    #: samples a side that would make ``detectable`` reach the threshold's slowdown at this noise
    needed: int | None
    #: the comparison's one-sided level: FAMILY_ALPHA / the number of sampled comparisons in the run
    alpha: float = FAMILY_ALPHA

    @property
    def resolves_threshold(self) -> bool:
        return self.detectable is not None and self.detectable <= self.threshold - 1 + 1e-12

    def shortfall(self) -> str:
        """What this run could have missed, or "" when it resolves the threshold's slowdown."""
        if self.resolves_threshold:
            return ""
        threshold = slowdown_text(self.threshold)
        why = ("" if can_reject(self.n_current, self.n_baseline, self.alpha)
               else f" (the U test needs {min_samples(self.alpha)} samples a side to reach p < {self.alpha:.3g})")
        more = f"; about {self.needed} samples a side would see {threshold}" if self.needed else ""
        return f"a slowdown of {threshold} could have gone unseen{why}{more}"

    def describe(self) -> str:
        """One line: what this run could see, and what it would take to see the threshold's size."""
        sides = f"noise {self.noise:.1%} per sample, {self.n_current}+{self.n_baseline} samples"
        seen = "sees no slowdown" if self.detectable is None else f"sees slowdowns from {slowdown_text(1 + self.detectable)}"
        return f"{seen} ({sides})" + (f": {self.shortfall()}" if self.shortfall() else "")

    def as_dict(self) -> dict:
        return {"n_current": self.n_current, "n_baseline": self.n_baseline, "noise": self.noise,
                "detectable": self.detectable, "resolves_threshold": self.resolves_threshold,
                "samples_needed": self.needed, "alpha": self.alpha}


def slowdown_text(ratio: float) -> str:
    """1.05 -> "+5%"."""
    return f"+{(ratio - 1) * 100:.3g}%"


def clean(samples) -> list[float]:
    """The usable samples: positive finite numbers (asv writes NaN for a failed sample)."""
    return [x for x in samples or () if isinstance(x, (int, float)) and math.isfinite(x) and x > 0]


def _logs(samples) -> list[float]:
    return [math.log(x) for x in clean(samples)]


def pooled_noise(current, baseline) -> float | None:
    """Pooled standard deviation of log(samples); None with fewer than 2 samples a side."""
    a, b = _logs(current), _logs(baseline)
    if len(a) < 2 or len(b) < 2:
        return None
    ss = sum((x - sum(a) / len(a)) ** 2 for x in a) + sum((x - sum(b) / len(b)) ** 2 for x in b)
    return math.sqrt(ss / (len(a) + len(b) - 2))


def can_reject(n: int, m: int, alpha: float) -> bool:
    """Whether the one-sided U test can reach p < alpha at all: 1 / C(n+m, n) < alpha."""
    if n <= 0 or m <= 0:
        return False
    # Logarithms away from the boundary (C(n+m, n) of thousands of samples a side is too large for a
    # float); exact at it: at 3 a side, 1 / C(6, 3) is 0.05 itself, which logarithms put on either side
    margin = math.lgamma(n + m + 1) - math.lgamma(n + 1) - math.lgamma(m + 1) + math.log(alpha)
    if abs(margin) > 1e-6:
        return margin > 0
    return math.comb(n + m, n) * alpha > 1 + 1e-9


def min_samples(alpha: float) -> int:
    """The fewest samples a side with which the one-sided U test can ever reach p < alpha."""
    n = 1
    while not can_reject(n, n, alpha):
        n += 1
    return n


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha)


def detectable_slowdown(noise: float, n: int, m: int, threshold: float, alpha: float = FAMILY_ALPHA) -> float | None:
    if not can_reject(n, m, alpha):
        return None
    se = noise * math.sqrt(1 / n + 1 / m) * math.sqrt(_MW_VARIANCE)
    delta = max(_z(alpha) * se, math.log(floor(threshold))) + _Z_POWER * se
    return math.exp(delta) - 1 if delta < _MAX_LOG_RATIO else None


def samples_needed(noise: float, threshold: float, alpha: float = FAMILY_ALPHA) -> int | None:
    """Samples a side (equal sides) for ``detectable_slowdown`` to reach threshold - 1; None if threshold <= 1.

    Both terms of δ solved for n (significance: (z_α + z_p) · se <= ln t; floor: ln floor + z_p · se
    <= ln t), at least :func:`min_samples`.
    """
    if threshold <= 1 or not math.isfinite(noise):
        return None
    room = math.log(threshold)
    n = max(min_samples(alpha),
            math.ceil(2 * _MW_VARIANCE * ((_z(alpha) + _Z_POWER) * noise / room) ** 2),
            math.ceil(2 * _MW_VARIANCE * (_Z_POWER * noise / (room - math.log(floor(threshold)))) ** 2))
    if n > _MAX_SAMPLES:
        return None
    while (detectable_slowdown(noise, n, n, threshold, alpha) or math.inf) > threshold - 1 + 1e-12:
        n += 1  # rounding only: the closed form is exact up to it
    return n


def stated_power(current, baseline, threshold: float, alpha: float = FAMILY_ALPHA) -> Power | None:
    """The power of one comparison, or None when a side has too few samples (a figure measured once)."""
    noise = pooled_noise(current or [], baseline or [])
    if noise is None or not math.isfinite(noise):
        return None
    n, m = len(_logs(current)), len(_logs(baseline))
    return Power(n, m, noise, detectable_slowdown(noise, n, m, threshold, alpha), threshold,
                 samples_needed(noise, threshold, alpha), alpha)


def one_sided_p(current, baseline) -> tuple[float, float] | None:
    """(p that current is slower, p that it is faster) by asv's U test; None if a side has no samples.

    asv's ``mann_whitney_u`` gives the two-sided p (ties broken against significance); the U
    statistic's null distribution is symmetric, so the observed direction's one-sided p is half
    of it and the other direction's is one minus that half.
    """
    from asv._stats import mann_whitney_u

    a, b = clean(current), clean(baseline)
    if not a or not b:
        return None
    u, p_two = mann_whitney_u(a, b)
    half = min(p_two / 2, 0.5)
    slower = u > len(a) * len(b) / 2  # U counts the pairs in which current's sample is the larger
    return (half, 1 - half) if slower else (1 - half, half)


def holm(p_values: dict, alpha: float = FAMILY_ALPHA) -> set:
    """The keys whose p-value Holm's step-down procedure rejects at family level ``alpha``."""
    ordered = sorted(p_values.items(), key=lambda kv: kv[1])
    rejected = set()
    for i, (key, p) in enumerate(ordered):
        if p >= alpha / (len(ordered) - i):
            break
        rejected.add(key)
    return rejected

"""The stated power: the smallest slowdown a comparison could have seen, from its own samples."""

import dataclasses
import json
import math
import random
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from asv._stats import is_different
from test_gate import _evaluate, _suite_measurements

from embedload.power import detectable_slowdown, min_samples, pooled_noise, samples_needed, stated_power
from embedload.report import render_json, render_junit, render_markdown, render_text

# z for a two-sided p < 0.002 and for a power of 0.9, from a normal table
Z_ALPHA, Z_POWER = 3.090232, 1.281552


def _direct(current, baseline):
    a, b = np.log(current), np.log(baseline)
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    se = pooled * math.sqrt(1 / len(a) + 1 / len(b)) * math.sqrt(math.pi / 3)
    return pooled, math.exp((Z_ALPHA + Z_POWER) * se) - 1


def test_the_figure_is_the_textbook_computation_on_known_samples():
    current = [4.41, 4.52, 4.38, 4.61, 4.47, 4.43, 4.55, 4.50, 4.39, 4.58]
    baseline = [4.30, 4.44, 4.36, 4.29, 4.51, 4.40, 4.33, 4.47]
    noise, detectable = _direct(current, baseline)
    power = stated_power(current, baseline, threshold=1.035)
    assert power.noise == pytest.approx(noise, rel=1e-9)
    assert power.detectable == pytest.approx(detectable, rel=1e-5)
    assert (power.n_current, power.n_baseline) == (10, 8)
    assert power.detectable == pytest.approx(0.0394, abs=5e-4)  # 1.8% noise: misses +3.5% with 10+8 samples
    assert not power.resolves_threshold
    assert power.needed == 12 and detectable_slowdown(noise, 12, 12) <= 0.035 < detectable_slowdown(noise, 11, 11)
    assert power.describe() == ("sees slowdowns from +3.94% (noise 1.8% per sample, 10+8 samples): a slowdown of +3.5% "
                                "could have gone unseen; about 12 samples a side would see +3.5%")
    assert stated_power(current, baseline, threshold=1.05).resolves_threshold


def test_too_few_samples_see_nothing_as_asvs_test_cannot_reject():
    # asv's U test (p < 0.002, two-sided) cannot reject with 6 samples a side, even fully separated.
    assert min_samples() == 7
    for n, rejects in ((6, False), (7, True)):
        low, high = [1.0 + i / 100 for i in range(n)], [2.0 + i / 100 for i in range(n)]
        assert is_different(low, high, None, None) is rejects
        assert (detectable_slowdown(0.02, n, n) is not None) is rejects
    power = stated_power([1.0, 1.1, 1.05], [1.0, 1.02, 0.98], threshold=1.2)
    assert power.detectable is None and "sees no slowdown" in power.describe()
    assert "the U test needs 7 samples a side" in power.describe()
    assert stated_power([1.0], [1.0, 1.1], 1.2) is None and pooled_noise([1.0], [1.0, 1.1]) is None
    assert samples_needed(0.0, 1.05) == 7 and samples_needed(0.05, 1.0) is None


def test_the_stated_slowdown_is_flagged_about_9_times_in_10():
    """Simulated runs at the stated slowdown: asv's own test is significant about 9 times in 10."""
    rng = random.Random(12)
    noise, n = 0.03, 12
    shift = math.log1p(detectable_slowdown(noise, n, n))
    hits = sum(
        is_different([math.exp(rng.gauss(shift, noise)) for _ in range(n)],
                     [math.exp(rng.gauss(0, noise)) for _ in range(n)], None, None)
        for _ in range(300)
    )
    assert 0.8 <= hits / 300 <= 0.97, hits


def _noisy(measurements, spread, phase=0.0):
    out = []
    for m in measurements:
        if m.samples:
            samples = [m.value * (1 + spread * math.sin(i * 1.7 + phase)) for i in range(len(m.samples))]
            m = dataclasses.replace(m, samples=samples)
        out.append(m)
    return out


def test_every_format_states_it_per_compared_benchmark():
    report = _evaluate(_noisy(_suite_measurements(), 0.08), baseline=_noisy(_suite_measurements(), 0.08, phase=1.0),
                       baseline_name="b", threshold=1.05)
    powered = [c for c in report.comparisons if c.power is not None]
    assert len(powered) == 4  # the four timings; the memory figures have no samples
    assert report.short_of_threshold == powered
    assert "4 of 4 sampled comparison(s) too noisy to see +5%" in report.verdict
    text = render_text(report)
    for c in powered:
        assert f"⚠ {c.name}: {c.power.describe()}" in text
    assert "could have gone unseen; about" in render_markdown(report)
    document = json.loads(render_json(report))
    assert [c["power"]["detectable"] for c in document["comparisons"] if c["power"]] == [c.power.detectable for c in powered]
    cases = ET.fromstring(render_junit(report)).findall(".//testsuite[@name='embedload.regressions']/testcase")
    outs = [tc.findtext("system-out") or "" for tc in cases]
    assert sum("could have gone unseen" in o for o in outs) == 4

    quiet = _evaluate(_suite_measurements(), baseline=_noisy(_suite_measurements(), 0.01, phase=1.0), baseline_name="b",
                      threshold=1.05)
    assert not quiet.short_of_threshold and "too noisy" not in quiet.verdict
    assert "✓ bench_timing.Import.timeraw_import" in render_text(quiet)

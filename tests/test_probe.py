"""The probe: real figures from a fresh process, failures never become numbers."""

import math
import time

import pytest

from embedload.base.catalog import PARTS
from embedload.measure.probe import ProbeError, run_probe
from embedload.measure.runtimes import Runtime
from embedload.models.registry import resolve_model

MB = 2**20


@pytest.fixture(scope="module")
def tiny_result(tiny_model):
    return run_probe(resolve_model(str(tiny_model)), "st-torch", "warm")


def test_every_stage_has_time_and_memory(tiny_result):
    for stage in ("import", "init", "first_encode", "total"):
        s = tiny_result["stages"][stage]
        assert s["seconds"] > 0
        assert s["peak_rss"] >= s["rss_before"] > 0
        assert s["peak_rss"] >= s["rss_after"] > 0
    # sentence-transformers + torch cost far more than a bare interpreter
    assert tiny_result["stages"]["import"]["peak_increase"] > 100 * MB
    assert tiny_result["stages"]["import"]["seconds"] > 0.5


def test_total_is_the_span_of_the_parts(tiny_result):
    stages = tiny_result["stages"]
    parts = sum(stages[p]["seconds"] for p in PARTS)
    # the total is the span from the first stage's start to the last one's end: only the probe's
    # bookkeeping (a few /proc reads) lies between the stages, so it is at least their sum
    assert stages["total"]["seconds"] == stages[PARTS[-1]]["end"] - stages[PARTS[0]]["start"]
    assert parts <= stages["total"]["seconds"]
    assert stages["total"]["peak_rss"] == max(stages[p]["peak_rss"] for p in PARTS)


def test_rss_growth_is_from_before_the_first_import(tiny_result):
    assert tiny_result["rss_start"] < 40 * MB  # a bare interpreter, nothing imported yet
    assert tiny_result["rss_growth"] == tiny_result["rss_end"] - tiny_result["rss_start"]
    assert tiny_result["run_peak_rss"] >= tiny_result["stages"]["total"]["peak_rss"]


def test_records_vector_versions_and_environment(tiny_result):
    assert len(tiny_result["vector"]) == 32 and all(math.isfinite(x) for x in tiny_result["vector"])
    assert tiny_result["versions"]["torch"].startswith("2.")
    assert tiny_result["versions"]["sentence-transformers"]
    assert tiny_result["device"] == "cpu" and tiny_result["threads"] >= 1
    assert tiny_result["gc_enabled"] is True
    assert len(tiny_result["steady_encode_seconds"]) == 5
    # no timing relation: CPU load on the machine can reverse any of them (a test must not flake)
    assert all(t > 0 for t in tiny_result["steady_encode_seconds"])
    assert tiny_result["steady_encode_median"] == sorted(tiny_result["steady_encode_seconds"])[2]


def _fake(**code):
    base = dict(import_code="pass", init_code="model = None", encode_code="vector = [1.0]")
    base.update(code)
    return Runtime("test-runtime", "test", **base)


def test_peak_is_per_stage_not_inherited(tiny_model):
    """A 300 MB transient in init must show in init's peak and not in first_encode's."""
    runtime = _fake(init_code="buf = b'x' * (300 * 2**20)\ndel buf\nmodel = None")
    result = run_probe(resolve_model(str(tiny_model)), runtime)
    init, encode = result["stages"]["init"], result["stages"]["first_encode"]
    assert init["peak_increase"] > 290 * MB
    assert init["rss_after"] - init["rss_before"] < 20 * MB  # it was freed
    assert encode["peak_increase"] < 20 * MB
    assert encode["peak_rss"] < init["peak_rss"] - 250 * MB


def test_children_run_offline(tiny_model):
    runtime = _fake(import_code="import os\nassert os.environ['HF_HUB_OFFLINE'] == '1', 'online'")
    run_probe(resolve_model(str(tiny_model)), runtime)


def test_failing_child_reports_stderr_and_no_number(tiny_model):
    runtime = _fake(init_code="raise RuntimeError('weights are corrupt')")
    with pytest.raises(ProbeError) as err:
        run_probe(resolve_model(str(tiny_model)), runtime)
    assert "weights are corrupt" in str(err.value)
    assert "Traceback" in err.value.stderr


@pytest.mark.slow
def test_hanging_child_is_bounded_by_timeout(tiny_model):
    runtime = _fake(import_code="import sys, time\nprint('about to hang', file=sys.stderr, flush=True)\ntime.sleep(120)")
    start = time.monotonic()
    with pytest.raises(ProbeError, match="timed out after 3 s") as err:
        run_probe(resolve_model(str(tiny_model)), runtime, timeout=3)
    assert time.monotonic() - start < 30
    assert "about to hang" in err.value.stderr


def test_corrupt_weights_are_named_before_any_child_starts(tiny_model, tmp_path):
    import shutil

    from embedload.models.registry import ModelError

    broken = tmp_path / "corrupt"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match=f"model file {broken / 'model.safetensors'} is broken"):
        resolve_model(str(broken))

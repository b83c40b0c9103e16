"""Reading asv's stderr for skip and failure reasons."""

from pathlib import Path

from embedload.results import _reasons_from_stderr

FIXTURES = Path(__file__).parent / "fixtures"


def test_reasons_per_param_combination():
    text = (FIXTURES / "asv_stderr_skips.txt").read_text()
    reasons = _reasons_from_stderr(text, ["model", "runtime", "cache"])
    assert reasons[("all-MiniLM-L6-v2", "st-torch", "cold")] == "cache=cold is not implemented yet (needs page-cache eviction)"
    assert reasons[("paraphrase-MiniLM-L3-v2", "st-torch", "warm")].startswith("model 'paraphrase-MiniLM-L3-v2' not found offline")
    assert reasons[("all-mpnet-base-v2", "st-torch", "warm")] == (
        "RuntimeError: probe of st-torch failed (exit code 1): OSError: weights are corrupt"
    )


def test_reason_without_params():
    reasons = _reasons_from_stderr("asv: skipped: NotImplementedError('no GPU here')\n", [])
    assert reasons[()] == "no GPU here"

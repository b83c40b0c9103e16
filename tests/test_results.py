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


def test_reasons_files_fit_any_filesystem_for_long_env_names(tmp_path, monkeypatch):
    """asv names an environment after every requirement; the runtimes' env name is > 255 bytes."""
    from embedload import pagecache, reasons

    env_name = "virtualenv-py3.11-" + "-".join(f"package{i}1.2.3" for i in range(30))
    assert len(env_name) > 255
    monkeypatch.setenv("ASV_COMMIT", "0123456789abcdef")
    monkeypatch.setenv("ASV_CONF_DIR", str(tmp_path))
    monkeypatch.setenv("ASV_ENV_NAME", env_name)
    reasons.record("bench_timing.Load", ("m", "st-onnx", "warm"), "skipped", "not prepared")
    assert reasons.load(tmp_path / ".asv" / "reasons", "0123456789abcdef", env_name) == {
        ("bench_timing.Load", ("m", "st-onnx", "warm")): "not prepared"}
    pagecache._record("label", {"cold": True})
    (written,) = (tmp_path / ".asv" / "reasons").glob("*.residency.jsonl")
    assert len(written.name) < 255 and '"cold": true' in written.read_text()
    # A short name stays readable as it is.
    assert reasons.file_stem("0123456789", "virtualenv-py3.11") == "01234567-virtualenv-py3.11"

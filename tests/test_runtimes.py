"""The other runtimes: skips that say what to run, `embedload prepare`, and the vector check.

The end-to-end tests need an interpreter with ``embedload[runtimes]`` (another stack than the
main one: optimum-onnx needs transformers<4.58). ``make test`` builds one (.venv-runtimes) and
names it in EMBEDLOAD_RUNTIMES_PYTHON; without it they skip and say so.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from embedload.base.catalog import PARTS
from embedload.measure import build_runtime_folders as prep
from embedload.measure import runtime_folders as folders
from embedload.measure import runtimes
from embedload.measure.probe import run_probe
from embedload.models.registry import ResolvedModel

HERE = Path(__file__).resolve().parent


@pytest.fixture
def prepared_root(tmp_path, monkeypatch):
    root = tmp_path / "prepared"
    monkeypatch.setenv(folders.PREPARED_ENV, str(root))
    return root


def test_missing_package_skips_with_the_pip_command(monkeypatch):
    monkeypatch.setattr(runtimes, "importable", lambda name: False)
    with pytest.raises(runtimes.NotAvailable) as err:
        runtimes.check_measurable("st-onnx", "warm")
    assert "onnxruntime" in str(err.value)
    assert "pip install 'embedload[onnx]' into an environment of its own" in str(err.value)
    runtimes.check_measurable("st-torch", "warm")  # st-torch needs nothing extra


def test_every_runtime_is_defined_once_with_its_stages():
    for name in runtimes.RUNTIME_NAMES:
        rt = runtimes.get_runtime(name)
        assert not rt.unavailable
        assert all(rt.code(stage) for stage in PARTS)
        assert rt.needs_preparing == (name != "st-torch")
    assert runtimes.get_runtime("st-onnx-int8").min_cosine == 0.99
    assert runtimes.get_runtime("fastembed").min_cosine == 0.999
    assert "sentence_transformers" not in runtimes.get_runtime("fastembed").code("total")  # no torch


def test_unprepared_runtime_is_skipped_with_the_command(tiny_model, prepared_root):
    model = ResolvedModel("tiny", tiny_model, "path")
    with pytest.raises(folders.NotPrepared) as err:
        folders.model_for(model, runtimes.get_runtime("fastembed"))
    assert "embedload prepare --runtime fastembed --model tiny" in str(err.value)
    assert isinstance(err.value, runtimes.NotAvailable)  # asv shows it as skipped
    assert folders.model_for(model, runtimes.get_runtime("st-torch")) is model


def test_a_failed_vector_check_is_never_measured(tiny_model, prepared_root):
    model = ResolvedModel("tiny", tiny_model, "path")
    folder = folders.model_dir(model) / "st-onnx"
    folder.mkdir(parents=True)
    (folder / folders.MANIFEST).write_text(json.dumps({"check": {"cosine": 0.42, "ok": False}}))
    with pytest.raises(folders.CheckFailed, match="computes something else"):
        folders.model_for(model, runtimes.get_runtime("st-onnx"))


def test_prepared_folders_follow_the_content_not_the_path(tiny_model, tmp_path, prepared_root):
    import shutil

    copy = tmp_path / "elsewhere" / "tiny-st"
    shutil.copytree(tiny_model, copy)
    a = folders.model_dir(ResolvedModel("tiny", tiny_model, "path"))
    assert a == folders.model_dir(ResolvedModel("tiny", copy, "path"))  # same model, another env
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert a != folders.model_dir(ResolvedModel("tiny", copy, "path"))  # a changed model
    assert str(a).startswith(str(prepared_root))


def test_cosine():
    assert folders.cosine([1.0, 0.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert folders.cosine([1.0, 0.0], [0.0, 1.0]) == pytest.approx(0.0)
    with pytest.raises(folders.CheckFailed):
        folders.cosine([1.0], [1.0, 2.0])


# --- end to end, in an interpreter with the runtimes' packages --------------------------------


@pytest.fixture(scope="module")
def runtimes_python():
    python = os.environ.get("EMBEDLOAD_RUNTIMES_PYTHON")
    if not python or not os.path.exists(python):
        pytest.skip("EMBEDLOAD_RUNTIMES_PYTHON is not set to an interpreter with embedload[runtimes] (make test sets it)")
    return python


@pytest.fixture(scope="module")
def tiny_model_rt(runtimes_python, tmp_path_factory):
    """The tiny model, saved by the runtimes' own sentence-transformers (an older major version)."""
    folder = tmp_path_factory.mktemp("models-rt") / "tiny-st"
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); from pathlib import Path; " \
           f"from tinymodel import build_tiny_model; build_tiny_model(Path({str(folder)!r}))"
    subprocess.run([runtimes_python, "-c", code], check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return ResolvedModel("tiny", folder, "path")


#: The file each prepared runtime's init loads (runtimes.py), made by `embedload prepare`.
PREPARED_FILE = {"st-onnx": "onnx/model.onnx", "st-onnx-int8": "onnx/model_qint8.onnx",
                 "st-openvino": "openvino/openvino_model.xml", "fastembed": "onnx/model.onnx"}


@pytest.mark.slow
@pytest.mark.parametrize("runtime", sorted(PREPARED_FILE))
def test_prepare_then_probe_matches_st_torch(runtime, runtimes_python, tiny_model_rt, prepared_root):
    """Every prepared runtime of the README, made and checked end to end in the runtimes' environment."""
    rt = runtimes.get_runtime(runtime)
    manifest = prep.prepare(tiny_model_rt, rt, python=runtimes_python)
    assert manifest["check"]["ok"] and manifest["check"]["cosine"] >= rt.min_cosine
    folder = Path(manifest["folder"])
    assert folder.is_dir() and (folder / PREPARED_FILE[runtime]).is_file()
    assert str(folder).startswith(str(prepared_root))  # outside the repository
    assert not any(folder.parent.glob(f".{runtime}.*"))  # no half-made folder left behind
    # Prepared once: a second call reuses it.
    assert prep.prepare(tiny_model_rt, rt, python=runtimes_python)["made_at"] == manifest["made_at"]

    result = run_probe(tiny_model_rt, runtime, "warm", python=runtimes_python)
    assert result["vector_check"]["ok"] and result["vector_check"]["cosine"] >= rt.min_cosine
    assert result["model_path"] == str(folder)
    assert result["versions"][rt.distributions[0]]  # the runtime's own version is recorded
    if runtime == "fastembed":
        assert result["versions"]["fastembed"] and "torch" not in result["versions"]


@pytest.mark.slow
def test_a_runtime_that_computes_something_else_fails_loudly(runtimes_python, tiny_model_rt, prepared_root):
    rt = runtimes.get_runtime("st-onnx")
    prep.prepare(tiny_model_rt, rt, python=runtimes_python)
    reference = folders.model_dir(tiny_model_rt) / folders.REFERENCE
    doc = json.loads(reference.read_text())
    doc["vector"] = [-x for x in doc["vector"]]  # as if st-torch had computed the opposite
    reference.write_text(json.dumps(doc))
    with pytest.raises(folders.CheckFailed, match="computes something else"):
        run_probe(tiny_model_rt, rt, "warm", python=runtimes_python)


def test_prepare_cli_exit_codes(monkeypatch, prepared_root, capsys):
    from embedload.commands.cli import main

    monkeypatch.setattr(runtimes, "importable", lambda name: False)
    assert main(["prepare", "--runtime", "fastembed"]) == 2
    assert "pip install 'embedload[fastembed]' into an environment of its own" in capsys.readouterr().err
    assert main(["prepare", "--skip-missing"]) == 2  # everything skipped: nothing prepared is not a pass
    assert "nothing was prepared" in capsys.readouterr().err
    assert main(["prepare", "--runtime", "st-torch"]) == 0
    assert not prepared_root.exists() or not any(prepared_root.iterdir())

"""A team's own loader (module:callable) measured end to end through the same stages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedload.base.config import ConfigError, load_config
from embedload.measure.probe import run_probe
from embedload.measure.runtimes import loader_runtime
from embedload.models.registry import resolve_model

LOADERS = Path(__file__).parent / "loaders"


@pytest.fixture
def loader_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(LOADERS) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.slow
def test_loader_measured_through_the_probe(tiny_model, loader_path):
    result = run_probe(resolve_model(str(tiny_model)), loader_runtime("tests_lazy_loader:load"))
    stages = result["stages"]
    assert result["runtime"] == "loader:tests_lazy_loader:load"
    # the lazy loader's module import is cheap; the stack's import lands in init (a ratio with a 10x
    # margin, not a clock limit: a loaded machine slows both)
    assert stages["import"]["seconds"] * 10 < stages["init"]["seconds"]
    assert stages["init"]["peak_increase"] > 100e6
    # where the import happened: the stack's modules appear during init, not during the import
    assert stages["init"]["modules_added"]["count"] > 100 and "sentence_transformers" in stages["init"]["modules_added"]["packages"]
    assert stages["import"]["modules_added"]["count"] < 10
    assert len(result["vector"]) == 32


@pytest.mark.slow
def test_loader_from_pyproject_in_profile(tiny_model, loader_path, tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.embedload]\nloader = "tests_lazy_loader:load"\n')
    out = subprocess.run(
        [sys.executable, "-m", "embedload", "--config", str(pyproject), "profile", "--runtime", "loader",
         "--model", str(tiny_model), "--runs", "1", "--format", "json"],
        capture_output=True, text=True, cwd=tmp_path, env=os.environ,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    (row,) = report["rows"]
    assert row["runtime"] == "loader:tests_lazy_loader:load"
    assert set(row["timings"]) == {"import", "init", "first_encode", "total"}
    # the advice knows that init ran the stack's import (a loader that imports inside its constructor)
    [advice] = [r for r in report["recommendations"] if r.startswith("model init is")]
    assert "the loader imports the stack inside init" in advice and "torch " in advice, advice
    assert "--defer auto --loader tests_lazy_loader:load" in advice


def test_bad_loader_specs(tmp_path):
    with pytest.raises(ValueError, match="must be 'module:callable'"):
        loader_runtime("no-colon")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.embedload]\nloader = 3\n")
    with pytest.raises(ConfigError, match="loader must be"):
        load_config(pyproject).loader()
    pyproject.write_text("[project]\nname = 'x'\n")
    out = subprocess.run([sys.executable, "-m", "embedload", "--config", str(pyproject), "probe", "--runtime", "loader"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "needs --loader module:callable" in out.stderr and "Traceback" not in out.stderr

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tinymodel import build_tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """The tests never write to the real ~/.cache/embedload (stage-file lists)."""
    old = os.environ.get("EMBEDLOAD_CACHE")
    os.environ["EMBEDLOAD_CACHE"] = str(tmp_path_factory.mktemp("embedload-cache"))
    yield
    if old is None:
        os.environ.pop("EMBEDLOAD_CACHE", None)
    else:
        os.environ["EMBEDLOAD_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A real sentence-transformers folder with random weights (built once per session)."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-st")


@pytest.fixture
def empty_config(tmp_path, monkeypatch):
    """A pyproject.toml with no [tool.embedload] and an empty hub cache, isolated from the machine."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[project]\nname = 'x'\n")
    monkeypatch.setenv("EMBEDLOAD_CONFIG", str(pyproject))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)
    return pyproject

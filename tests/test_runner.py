"""The two workflows on a clean runner: the one `embedload init` writes for examples/app, and embedload's own.

Each job's `run:` steps run in order on an emulated fresh ubuntu runner (tests/runner.py: a new
HOME, a fresh clone, no .venv, no ~/.cache/embedload, pip limited to PyPI and the indexes the
workflow names, the PyTorch CPU index, and only it, mapped to this machine's CPU wheel of torch;
embedload's git URL mapped to a snapshot of this checkout). Every step must pass, except the
gate's on a planted regression, which must exit 1. The history job, run for two pushes, must leave
both commits' results in the branch asv-results.

Neither gate verdict here can flip by chance:

- the application's loader (``embedapp.steady``) sleeps 300 ms in each stage and allocates fixed
  buffers; what varies between samples is the rest (the import of a small module, a buffer's page
  faults, the scheduler's delay: milliseconds). For the unchanged commit to regress, the medians
  of 20 interleaved samples a side would have to differ by 5% (the gate's floor), 15 ms on every
  sample's typical stage, with nothing that differs between the two sides; the planted import
  (+300 ms, twice the time) moves every sample by twenty times that;
- embedload's own gate measures the real stack: its pull request plants a 3 s sleep in the
  measured child's import stage (import about 3-7 s here, a sample's spread under a second: the
  shift is several spreads, and the U test's p at 20 a side falls far below its level). Its exit
  0 on an unchanged commit is the application's case above: the same gate, the same steps after
  it, and a make gate run costs about 10 minutes here.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import EMBEDLOAD_GIT_URL, REPO, embedload_git_snapshot, git_installed_embedload
from runner import Runner, clean_workspaces, local_torch_index

APP = REPO / "examples" / "app"
IDENTITY = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
            "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid"}

#: A loader with fixed costs: so that the gate's verdicts on this app cannot flip (the module docstring).
STEADY = '''"""A stand-in provider with fixed costs (tests/test_runner.py): sleeps and touched buffers."""
import time

IMPORT_SLEEP = 0.3
_HELD = b"\\x01" * 8_000_000
time.sleep(IMPORT_SLEEP)


class _Encoder:
    def __init__(self):
        self.weights = b"\\x02" * 24_000_000
        self.warm = None

    def encode(self, sentence, **kwargs):
        if self.warm is None:
            self.warm = b"\\x03" * 8_000_000
            time.sleep(0.3)
        return [0.5] * 8


def load(model_path, device):
    time.sleep(0.3)
    return _Encoder()
'''


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}).stdout.strip()


def _commit(root, message):
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD")


def _stack_torch():
    return next(line.split("==")[1].strip() for line in (REPO / "constraints.txt").read_text().splitlines()
                if line.startswith("torch=="))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """embedload's snapshot behind its git URL, the torch index stand-in and a runner; removed afterwards."""
    root = tmp_path_factory.mktemp("runner")
    snapshot = root / "embedload-git"
    snapshot.mkdir()
    commit, git_env = embedload_git_snapshot(snapshot)
    index = local_torch_index(root / "torch-index", _stack_torch())
    yield root, snapshot, commit, git_env, Runner(root, torch_index=index, git_env=git_env)
    shutil.rmtree(root, ignore_errors=True)


def _passed(steps, but=None, code=1):
    """Every step passed (``but`` names the one step expected to exit ``code``)."""
    text = "\n".join(f"{s}\n{s.output if s.status == 'failed' else ''}" for s in steps)
    for s in steps:
        if s.name == but:
            assert s.returncode == code, text
        elif s.status != "skipped" or "not emulated" not in s.output:
            assert s.status == "passed", text
    return steps


def _results_in_branch(remote: Path) -> set[str]:
    names = _git(remote, "ls-tree", "-r", "--name-only", "asv-results").split()
    return {Path(n).name.split("-")[0] for n in names if n.count("/") == 1 and not n.endswith("machine.json")}


@pytest.mark.slow
def test_the_workflow_init_writes_passes_on_a_clean_runner(world, tmp_path):
    root, snapshot, commit, git_env, runner = world
    # examples/app, with the stand-in loader beside its provider
    app = tmp_path / "app"
    app.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(APP / name, app / name)
    shutil.copytree(APP / "src", app / "src")
    (app / "src" / "embedapp" / "steady.py").write_text(STEADY)
    _git(app, "init", "-q", "-b", "main")
    _commit(app, "the application")

    # embedload installed as a user would (from its git URL), then init
    python, env = git_installed_embedload(tmp_path / "user-venv", git_env)
    init = subprocess.run([str(python), "-m", "embedload", "init", "--loader", "embedapp.steady:load"],
                          cwd=app, env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stdout + init.stderr
    workflow = app / ".github" / "workflows" / "embedload.yml"
    assert f"embedload @ git+{EMBEDLOAD_GIT_URL}@{commit}" in workflow.read_text()
    first = _commit(app, "embedload init")
    remote = tmp_path / "app.git"
    _git(tmp_path, "clone", "-q", "--bare", str(app), str(remote))
    _git(app, "remote", "add", "origin", str(remote))

    # two pushes to main: the history keeps both
    _passed(runner.run_job(workflow, "history", remote=remote, event="push", sha=first, ref="refs/heads/main"))
    clean_workspaces(root)
    (app / "README.md").write_text((app / "README.md").read_text() + "\nMeasured by embedload.\n")
    second = _commit(app, "a word in the README")
    _git(app, "push", "-q", "origin", "main")
    _passed(runner.run_job(workflow, "history", remote=remote, event="push", sha=second, ref="refs/heads/main",
                           before=first))
    clean_workspaces(root)
    assert {first[:8], second[:8]} <= _results_in_branch(remote)

    # a pull request with a planted import regression: the gate exits 1
    _git(app, "checkout", "-q", "-b", "slow")
    steady = app / "src" / "embedapp" / "steady.py"
    steady.write_text(STEADY.replace("IMPORT_SLEEP = 0.3", "IMPORT_SLEEP = 0.6"))
    slow = _commit(app, "a slower import")
    _git(app, "push", "-q", "origin", "slow")
    _passed(runner.run_job(workflow, "gate", remote=remote, event="pull_request", sha=slow,
                           ref="refs/pull/1/merge", base_ref="main"), but="Gate")
    summary = runner.summary.read_text()  # the gate's markdown, in the job's step summary
    [regressed] = [line for line in summary.splitlines() if "track_import(" in line and "regressed" in line]
    assert "embedapp.steady:load" in regressed, summary
    clean_workspaces(root)

    # a pull request that changes no code: the gate exits 0
    _git(app, "checkout", "-q", "main")
    _git(app, "checkout", "-q", "-b", "docs")
    (app / "README.md").write_text((app / "README.md").read_text() + "\nAnother word.\n")
    docs = _commit(app, "another word in the README")
    _git(app, "push", "-q", "origin", "docs")
    _passed(runner.run_job(workflow, "gate", remote=remote, event="pull_request", sha=docs,
                           ref="refs/pull/2/merge", base_ref="main"))
    clean_workspaces(root)


#: The planted slowdown in embedload's measuring child: its import stage sleeps, inside the stage's clock.
PLANT = ("        start = time.perf_counter()\n        exec(code, namespace)\n",
         "        start = time.perf_counter()\n        if name == \"import\":\n"
         "            time.sleep(3.0)  # planted (tests/test_runner.py)\n        exec(code, namespace)\n")


def _embedload_remote(snapshot: Path, tmp_path: Path) -> tuple[Path, Path]:
    """embedload's repository as GitHub would hold it (a bare remote of the snapshot), and a clone to push from."""
    remote = tmp_path / "embedload.git"
    _git(tmp_path, "clone", "-q", "--bare", str(snapshot), str(remote))
    work = tmp_path / "embedload"
    _git(tmp_path, "clone", "-q", str(remote), str(work))
    return remote, work


@pytest.mark.slow
def test_embedloads_own_history_job_keeps_both_pushes_on_a_clean_runner(world, tmp_path):
    root, snapshot, commit, git_env, runner = world
    workflow = snapshot / ".github" / "workflows" / "benchmarks.yml"
    remote, work = _embedload_remote(snapshot, tmp_path)
    # two pushes to main: the history keeps both
    _passed(runner.run_job(workflow, "history", remote=remote, event="push", sha=commit, ref="refs/heads/main"))
    clean_workspaces(root)
    (work / "docs" / "asv.md").write_text((work / "docs" / "asv.md").read_text() + "\n")
    second = _commit(work, "a blank line in docs/asv.md")
    _git(work, "push", "-q", "origin", "main")
    _passed(runner.run_job(workflow, "history", remote=remote, event="push", sha=second, ref="refs/heads/main",
                           before=commit))
    clean_workspaces(root)
    assert {commit[:8], second[:8]} <= _results_in_branch(remote)


@pytest.mark.slow
def test_embedloads_own_gate_job_fails_a_planted_slowdown_on_a_clean_runner(world, tmp_path):
    root, snapshot, commit, git_env, runner = world
    workflow = snapshot / ".github" / "workflows" / "benchmarks.yml"
    remote, work = _embedload_remote(snapshot, tmp_path)
    # a pull request that plants a slower import stage: make gate exits 1 (make's own 2 for a failed command)
    _git(work, "checkout", "-q", "-b", "slow")
    child = work / "src" / "embedload" / "measure" / "_probe_child.py"
    assert child.read_text().count(PLANT[0]) == 1
    child.write_text(child.read_text().replace(*PLANT))
    slow = _commit(work, "a planted slowdown")
    _git(work, "push", "-q", "origin", "slow")
    gate = "Measure base and head back to back, then gate (its exit code is the check)"
    # make exits 2 for any failed command: the step summary (the gate's markdown) says it was a regression
    _passed(runner.run_job(workflow, "gate", remote=remote, event="pull_request", sha=slow, ref="refs/pull/1/merge",
                           base_ref="main"), but=gate, code=2)
    summary = runner.summary.read_text()
    assert summary.startswith("## ❌ embedload: FAIL: ") and "regressed" in summary, summary[:2000]
    [regressed] = [line for line in summary.splitlines() if "track_import(" in line and "warm" in line
                   and line.startswith("| regressed |")]
    clean_workspaces(root)

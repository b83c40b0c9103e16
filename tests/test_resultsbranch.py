"""embedload results-branch: CI's asv history kept in a git branch, added to and never lost."""

import os
import subprocess

import pytest

from embedload.commands.cli import main
from embedload.results.results_branch import BranchError, restore, save

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}).stdout.strip()


@pytest.fixture
def clones(tmp_path):
    """A remote (bare) and two fresh clones of it, as two CI runs see it."""
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    (work / "app.py").write_text("x = 1\n")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "app")
    _git(tmp_path, "clone", "-q", "--bare", str(work), "remote.git")
    for name in ("run1", "run2"):
        _git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), name)
    return tmp_path / "remote.git", tmp_path / "run1", tmp_path / "run2"


def test_two_runs_leave_both_results_in_the_branch_and_the_checkout_untouched(clones, tmp_path):
    remote, run1, run2 = clones
    lines = []
    assert restore(run1, run1 / ".asv" / "results", progress=lines.append) == 0
    assert lines == ["origin has no branch asv-results yet: no earlier results (the first save creates it)"]
    (run1 / ".asv" / "results" / "box").mkdir(parents=True)
    (run1 / ".asv" / "results" / "box" / "aaaa.json").write_text('{"first": 1}')
    first = save(run1, run1 / ".asv" / "results", message="results at aaaa")
    assert _git(run1, "status", "--porcelain", "--untracked-files=no") == ""  # index and checkout untouched
    assert _git(run1, "rev-parse", "--abbrev-ref", "HEAD") == "main"

    results2 = run2 / ".asv" / "results"
    results2.mkdir(parents=True)
    (results2 / "box").mkdir()
    (results2 / "box" / "aaaa.json").write_text('{"mine": 1}')  # a file here is never overwritten
    lines = []
    assert restore(run2, results2, progress=lines.append) == 0
    assert "1 file(s) here differ from the branch's and were kept as they are" in lines[0]
    (results2 / "box" / "aaaa.json").unlink()
    assert restore(run2, results2) == 1 and (results2 / "box" / "aaaa.json").read_text() == '{"first": 1}'
    (results2 / "box" / "bbbb.json").write_text('{"second": 2}')
    second = save(run2, results2, message="results at bbbb")
    assert _git(remote, "rev-parse", "asv-results") == second
    assert _git(remote, "rev-parse", "asv-results^") == first  # appended, not replaced
    assert _git(remote, "ls-tree", "-r", "--name-only", "asv-results").split() == ["box/aaaa.json", "box/bbbb.json"]
    assert save(run2, results2) is None  # nothing new: nothing pushed

    fresh = tmp_path / "fresh-results"
    fresh.mkdir()
    assert restore(run1, fresh) == 2


def test_save_says_what_is_wrong_in_one_line(clones, tmp_path, capsys, monkeypatch):
    remote, run1, _ = clones
    with pytest.raises(BranchError, match="no results in .* to save: run asv first"):
        save(run1, run1 / ".asv" / "results")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "x.json").write_text("{}")
    _git(run1, "remote", "set-url", "origin", str(tmp_path / "nowhere.git"))
    with pytest.raises(BranchError, match="cannot fetch asv-results from origin"):
        save(run1, tmp_path / "results")
    monkeypatch.chdir(run1)
    assert main(["results-branch", "save", "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot fetch asv-results from origin" in err[0]

"""``embedload results-branch``: keep asv's results in a git branch, so that CI's history is never lost.

A CI runner starts empty; the Actions cache drops what is unused for 7 days. The results live
instead in a branch of the repository itself (``asv-results`` by default), one commit per save,
each holding the whole results folder at its root:

- ``restore`` fetches the branch and adds its files to the results folder (a file already there
  is kept, never overwritten, and counted);
- ``save`` commits the results folder onto the branch (the fetched tip as parent) and pushes it.

Both go through git plumbing with a temporary index, so the checkout, its index and its
branches are untouched.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from embedload.base.config import UsageError

DEFAULT_BRANCH = "asv-results"
#: Who commits the results when git has no identity configured (a fresh runner has none).
_IDENTITY = {"GIT_AUTHOR_NAME": "embedload", "GIT_AUTHOR_EMAIL": "embedload@users.noreply.github.com",
             "GIT_COMMITTER_NAME": "embedload", "GIT_COMMITTER_EMAIL": "embedload@users.noreply.github.com"}


class BranchError(UsageError):
    """git refused: one line saying what and what to do."""


def _git(repo: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=False)
    if check and out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BranchError(f"git {' '.join(args[:2])} failed: {last}")
    return out


def _remote_ref(remote: str, branch: str) -> str:
    return f"refs/remotes/{remote}/{branch}"


def fetch(repo: Path, remote: str, branch: str) -> str | None:
    """The branch's tip after fetching it from ``remote``, or None when the remote has no such branch yet."""
    ref = _remote_ref(remote, branch)
    out = _git(repo, "fetch", "--quiet", remote, f"+refs/heads/{branch}:{ref}", check=False)
    if out.returncode != 0:
        if _git(repo, "ls-remote", "--exit-code", "--heads", remote, branch, check=False).returncode == 2:
            return None  # the remote answered: no such branch (the first save creates it)
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BranchError(f"cannot fetch {branch} from {remote}: {last}")
    return _git(repo, "rev-parse", ref).stdout.strip()


def restore(repo: Path, results: Path, *, remote: str = "origin", branch: str = DEFAULT_BRANCH,
            progress: Callable[[str], None] = lambda line: None) -> int:
    """Add the branch's results to ``results``; returns how many files were added."""
    tip = fetch(repo, remote, branch)
    if tip is None:
        progress(f"{remote} has no branch {branch} yet: no earlier results (the first save creates it)")
        return 0
    added = kept = 0
    with tempfile.TemporaryDirectory(prefix="embedload-results-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(repo, f"--work-tree={tree}", "checkout", tip, "--", ".", env=env)
        for src in sorted(p for p in tree.rglob("*") if p.is_file()):
            dest = results / src.relative_to(tree)
            if dest.exists():
                kept += not filecmp.cmp(src, dest, shallow=False)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            added += 1
    progress(f"restored {added} results file(s) from {branch} ({tip[:8]}) into {results}"
             + (f"; {kept} file(s) here differ from the branch's and were kept as they are" if kept else ""))
    return added


def save(repo: Path, results: Path, *, remote: str = "origin", branch: str = DEFAULT_BRANCH, message: str = "",
         progress: Callable[[str], None] = lambda line: None) -> str | None:
    """Commit ``results`` onto the branch and push it; returns the new commit, or None when nothing changed."""
    if not results.is_dir() or not any(p.is_file() for p in results.rglob("*")):
        raise BranchError(f"no results in {results} to save: run asv first")
    parent = fetch(repo, remote, branch)
    env = {**os.environ}
    if not _git(repo, "config", "user.name", check=False).stdout.strip():
        env.update(_IDENTITY)
    with tempfile.TemporaryDirectory(prefix="embedload-results-") as tmp:
        env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
        _git(repo, f"--work-tree={results.resolve()}", "add", "--all", "--force", ".", env=env)
        tree = _git(repo, "write-tree", env=env).stdout.strip()
    if parent and _git(repo, "rev-parse", f"{parent}^{{tree}}").stdout.strip() == tree:
        progress(f"{branch} already holds these results ({parent[:8]}): nothing to push")
        return None
    args = ["commit-tree", tree, "-m", message or "asv results"] + (["-p", parent] if parent else [])
    commit = _git(repo, *args, env=env).stdout.strip()
    out = _git(repo, "push", "--quiet", remote, f"{commit}:refs/heads/{branch}", check=False)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BranchError(f"cannot push {branch} to {remote}: {last} (another job may have pushed meanwhile: "
                          f"restore, then save again; in CI the job needs `permissions: contents: write`)")
    _git(repo, "update-ref", _remote_ref(remote, branch), commit)
    progress(f"saved {results} as {commit[:8]} on {branch} ({remote})")
    return commit

"""A git ref of the repository around a folder, resolved by asv's own git code (as ``asv compare`` does)."""

from __future__ import annotations

import re
from pathlib import Path

HEX = re.compile(r"[0-9a-f]{4,40}")


def git_commit(ref: str, repo: Path | None = None) -> str | None:
    """``ref`` as a full commit hash, looked up by asv's own git code (as ``asv compare`` does).

    None when there is no git repository around ``repo`` (default: here) or it does not know ``ref``.
    """
    from asv import util
    from asv.plugins.git import Git
    from asv.repo import NoSuchNameError

    start = (repo or Path.cwd()).resolve()
    root = next((d for d in (start, *start.parents) if Git.is_local_repo(str(d))), None)
    if root is None or ref.startswith("-"):
        return None
    try:
        return Git(str(root), str(root)).get_hash_from_name(ref)
    except (NoSuchNameError, util.ProcessError, OSError):
        return None


def is_git_ref(ref: str, repo: Path | None = None) -> bool:
    return git_commit(ref, repo) is not None

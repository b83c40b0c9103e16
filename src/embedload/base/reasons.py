"""Why a benchmark was skipped or failed, kept beside asv's results.

asv prints a skip's reason but does not save it ("stderr and errcode are not saved to files"),
so a gate reading the results later could only say "skipped". The suite therefore appends one
JSON line per skip or failure to ``<ASV_CONF_DIR>/.asv/reasons/<commit>-<env>.jsonl`` (asv sets
those variables in every benchmark process), and :mod:`embedload.results.asv_results` joins them back.
Outside asv (no ``ASV_COMMIT``) nothing is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REASONS_SUBDIR = os.path.join(".asv", "reasons")


#: Longer environment names (asv names an env after every requirement) are hashed: a file name
#: has at most 255 bytes, and the runtimes' environment name alone is longer.
_MAX_ENV_IN_NAME = 120


def file_stem(commit: str, env_name: str) -> str:
    """``<commit>-<env>`` for the files kept beside asv's results, short enough for any filesystem."""
    if len(env_name) > _MAX_ENV_IN_NAME:
        import hashlib

        env_name = env_name[:60] + "-" + hashlib.sha256(env_name.encode()).hexdigest()[:16]
    return f"{commit[:8]}-{env_name}"


def reasons_file(conf_dir: str | Path, commit: str, env_name: str) -> Path:
    return Path(conf_dir) / REASONS_SUBDIR / f"{file_stem(commit, env_name)}.jsonl"


def record(benchmark_class: str, params: tuple, kind: str, reason: str) -> None:
    """Append one reason for the current asv run; a no-op outside asv."""
    commit, conf_dir, env_name = (os.environ.get(k) for k in ("ASV_COMMIT", "ASV_CONF_DIR", "ASV_ENV_NAME"))
    if not (commit and conf_dir and env_name):
        return
    line = json.dumps({"class": benchmark_class, "params": [str(p) for p in params], "kind": kind, "reason": reason})
    append_line(reasons_file(conf_dir, commit, env_name), line)


def append_line(path: Path, line: str) -> None:
    """One JSON line appended to a file kept beside asv's results; losing it never fails a benchmark."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One short line per O_APPEND write: concurrent writers cannot interleave it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass


def read_reasons(reasons_dir: Path, commit: str, env_name: str) -> dict[tuple[str, tuple], str]:
    """(benchmark class, params) -> the last reason recorded for that commit and environment."""
    path = Path(reasons_dir) / f"{file_stem(commit, env_name)}.jsonl"
    found: dict[tuple[str, tuple], str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        try:
            entry = json.loads(line)
            found[(entry["class"], tuple(entry["params"]))] = entry["reason"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a torn line from a killed run
    return found

"""Writing the files embedload makes: atomically, never over a file it did not mean to replace.

A leaf module: the profiler, the gate's report, prepare and the CLI all write through it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class OutputError(Exception):
    """An output path that cannot be written; the message says which and what to do."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: Path | str, *, force: bool = False, option: str = "--output") -> Path:
    """Fail now, before anything is measured, if ``path`` could not be written at the end."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a directory; name a file in it")
    if path.exists() and not force:
        raise OutputError(f"{path} already exists; pass --force to replace it, or choose another {option}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{option} {path}: folder {folder} does not exist; create it or choose another {option}")
    try:  # the real test: what the final write does (a temporary file, then a rename)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"{option} {path} cannot be written: {exc.strerror} in {folder}") from None
    return path


def write_new_file(path: Path | str, text: str, *, force: bool = False) -> None:
    """Write atomically (temp file + rename), with the umask's permissions; refuse to replace an
    existing file unless ``force``. Raises :class:`OutputError`."""
    path = Path(path)
    check_writable(path, force=force)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: a CI artifact step may run as another user
        if force:
            os.replace(tmp, path)
        else:
            # link() fails if the name appeared meanwhile: never clobber a file we did not check
            os.link(tmp, path)
            os.unlink(tmp)
    except FileExistsError:
        raise OutputError(f"{path} was created by something else while this ran; it is left as it is") from None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def dump_json(doc: dict) -> str:
    return json.dumps(doc, indent=1) + "\n"

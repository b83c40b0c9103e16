"""Cold start without root: evict exactly the files a stage reads, and prove they are gone.

- :mod:`embedload.measure.pages` evicts files (``posix_fadvise(DONTNEED)``), measures how many of
  their bytes are still in memory (``mincore``), and reads them in.
- :func:`stage_files` finds which files each stage reads, from the import itself: a warm child
  runs the stages and lists, after each one, every loaded module file (source and bytecode)
  and every file mapped into the process (shared libraries). A stage's set is what appeared
  during it; ``init`` and ``first_encode`` add the model folder.
- ``python -m embedload.measure.evict ...`` (:mod:`embedload.measure.evict`) is the helper a measured child spawns right before
  its timed code: it evicts, checks residency, and fails (so no number is recorded) when more
  than 1% of the bytes are still resident.

Limits: pages that some process has mapped, and dirty pages, are not dropped by fadvise; the
residency check catches both. Filesystem metadata (directory entries, inodes) stays cached.
``--drop-caches`` (root only) also drops every clean page on the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from embedload.base.catalog import PARTS
from embedload.base.children import ChildTimeout, child_environ, describe_exit, run_child
from embedload.base.config import UsageError
from embedload.measure.pages import read_into_cache
from embedload.measure.runtimes import bindings


def check_can_drop_caches() -> None:
    """Before measuring with ``--drop-caches``: can this process write /proc/sys/vm/drop_caches?"""
    if not os.access("/proc/sys/vm/drop_caches", os.W_OK):
        raise UsageError("--drop-caches needs root (it writes /proc/sys/vm/drop_caches); run as root, or leave it out: "
                         "--cold-start alone evicts the load's own files without root")


# --- which files a stage reads ------------------------------------------------------------------

_DISCOVERY_CHILD = r'''
import json, os, sys
opened = set()
def _audit(event, args):
    # Every file Python opens: module sources and bytecode, but also what a stage reads that no
    # module or mapping shows (dist-info METADATA, entry_points.txt, configs, vocabularies).
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        opened.add(os.fsdecode(args[0]))
sys.addaudithook(_audit)
def loaded():
    files = set()
    for f in list(opened):
        if not f.startswith(("/proc/", "/sys/", "/dev/")) and os.path.isfile(f):
            files.add(os.path.realpath(f))
    for m in list(sys.modules.values()):
        for attr in ("__file__", "__cached__"):
            f = getattr(m, attr, None)
            if isinstance(f, str) and os.path.isfile(f):
                files.add(os.path.realpath(f))
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                path = parts[5].strip()
                if os.path.isfile(path):
                    files.add(os.path.realpath(path))
    return sorted(files)
spec = json.loads(sys.stdin.read())
ns = {}
exec(spec["bindings"], ns)
snapshots = {"start": loaded()}
for name, code in spec["stages"]:
    exec(code, ns)
    snapshots[name] = loaded()
with open(spec["out"], "w") as f:
    json.dump(snapshots, f)
'''


def model_files(model_path: str | None) -> list[str]:
    if not model_path:
        return []
    out = []
    for root, _dirs, files in os.walk(model_path, followlinks=True):
        out.extend(os.path.realpath(os.path.join(root, name)) for name in files)
    return sorted(set(out))


def _cache_dir() -> Path:
    """``$EMBEDLOAD_CACHE/stage-files`` (default ``~/.cache/embedload``; the tests use a temporary one)."""
    explicit = os.environ.get("EMBEDLOAD_CACHE")
    if explicit:
        return Path(explicit) / "stage-files"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "embedload" / "stage-files"


def stage_files_key(python: str, runtime, model_path: str | None, device: str) -> str:
    """What a cached file list depends on: the interpreter *as named*, the stage code, the model.

    The path is not resolved: every virtualenv's ``python`` is a symlink to the same base
    interpreter, but each environment imports from its own site-packages.
    """
    key_text = json.dumps([os.path.abspath(python), runtime.name, [runtime.code(p) for p in PARTS], model_path, device])
    return hashlib.sha256(key_text.encode()).hexdigest()[:24]


class DiscoveryError(RuntimeError):
    """The stages could not be run once to list the files they read."""


def stage_files(runtime, model_path: str | None, device: str, python: str | None = None,
                timeout: float = 300) -> dict[str, list[str]]:
    """The files each stage reads, found by running the stages once, warm, in a child.

    Without a model folder only ``import`` is found. Cached per interpreter, runtime source and
    model folder; a cached list whose files are gone (an upgrade) is rebuilt.
    """
    python = python or sys.executable
    cache = _cache_dir() / (stage_files_key(python, runtime, model_path, device) + ".json")
    if cache.is_file():
        try:
            cached = json.loads(cache.read_text())
            if all(os.path.exists(p) for files in cached.values() for p in files):
                return cached
        except (OSError, json.JSONDecodeError):
            pass
    with tempfile.TemporaryDirectory(prefix="embedload-files-") as workdir:
        out = os.path.join(workdir, "files.json")
        parts = PARTS if model_path else PARTS[:1]
        spec = {"bindings": bindings(model_path, device), "out": out,
                "stages": [[part, runtime.code(part)] for part in parts]}
        try:
            proc = run_child([python, "-c", _DISCOVERY_CHILD], input=json.dumps(spec), cwd=workdir,
                             env=child_environ(), timeout=timeout, cleanup=[workdir])
        except ChildTimeout:
            raise DiscoveryError(f"listing the files the stages read took longer than {timeout:g} s "
                                 f"(the load ran once, warm, to find them; raise --timeout if it is this slow)") from None
        except OSError as exc:
            raise DiscoveryError(f"cannot run {python}: {exc.strerror}") from None
        if proc.returncode != 0 or not os.path.exists(out):
            lines = [line.strip() for line in proc.stderr.strip().splitlines() if line.strip()]
            raise DiscoveryError(f"could not list the files the stages read: the load failed "
                                 f"({describe_exit(proc.returncode)}): {lines[-1] if lines else 'no message'}")
        snaps = json.loads(Path(out).read_text())
    seen = set(snaps["start"])
    sets = {}
    for part in parts:
        now = set(snaps[part])
        sets[part] = sorted(now - seen)
        seen |= now
    result = {"import": sets["import"]}
    if model_path:
        model = set(model_files(model_path))
        result["init"] = sorted(set(sets["init"]) | model)
        result["first_encode"] = sorted(set(sets["first_encode"]) | model)
        result["total"] = sorted(set().union(*sets.values()) | model)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, cache)
    return result


def write_file_list(paths: list[str]) -> str:
    """A file holding ``paths``, one per line, for the helper; kept per content (reused)."""
    text = "\n".join(paths) + "\n"
    path = _cache_dir() / ("list-" + hashlib.sha256(text.encode()).hexdigest()[:24] + ".txt")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return str(path)


def helper_source(list_file: str, label: str, drop_caches: bool, json_file: str | None = None) -> str:
    """Untimed source, run in the measured interpreter just before the timed code.

    It imports nothing new (``os`` is loaded at start-up): the eviction and the residency check
    run in a spawned helper, so the measured process has no module pre-loaded that its timed
    code would have to load.
    """
    args = [list_file, "--label", label] + (["--drop-caches"] if drop_caches else []) + (["--json", json_file] if json_file else [])
    return (
        "import os as _el_os, sys as _el_sys\n"
        f"_el_pid = _el_os.posix_spawn(_el_sys.executable, [_el_sys.executable, '-m', 'embedload.measure.evict', 'evict', *{args!r}], _el_os.environ)\n"
        "if _el_os.waitstatus_to_exitcode(_el_os.waitpid(_el_pid, 0)[1]) != 0:\n"
        f"    raise RuntimeError('not cold: see the stderr above ({label})')\n"
        + REEVICT_SOURCE.format(list_file=list_file)
    )


#: Run by the measured process after the helper exits: drops what the helper itself had mapped
#: (ctypes and friends) and so could not evict. Only ``os`` and builtins: nothing new imported.
REEVICT_SOURCE = """\
with open({list_file!r}) as _el_f:
    for _el_p in _el_f.read().splitlines():
        try:
            _el_fd = _el_os.open(_el_p, _el_os.O_RDONLY)
        except OSError:
            continue
        _el_os.posix_fadvise(_el_fd, 0, 0, _el_os.POSIX_FADV_DONTNEED)
        _el_os.close(_el_fd)
"""


def make_warm(runtime, model_path: str | None, device: str, python: str | None = None, timeout: float = 300) -> None:
    """What ``cache=warm`` means, before a warm run: every file the stages read is in the page cache
    (a cold run just before, of this or another benchmark, evicted them). Raises :class:`DiscoveryError`."""
    files = stage_files(runtime, model_path, device, python=python, timeout=timeout)
    read_into_cache(files.get("total", files["import"]))

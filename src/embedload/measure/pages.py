"""Evict exactly the listed files from the page cache, prove they are gone, or read them in.

- :func:`evict` drops a file's pages with ``posix_fadvise(DONTNEED)``;
- :func:`residency` measures how many of its bytes are still in memory with ``mincore`` (ctypes);
- :func:`evict_until_cold` does both until at most :data:`COLD_MAX_RESIDENT` stays resident;
- :func:`read_into_cache` reads every file in (what "warm" means).

Standard library only: a cold sample's eviction helper (:mod:`embedload.measure.evict`) imports this
right before the measured stages, and its start-up is part of every cold sample's cost. Which files a
stage reads is :mod:`embedload.measure.pagecache`'s.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os

#: A sample is cold only when at most this fraction of its files' bytes is resident.
COLD_MAX_RESIDENT = 0.01
EVICT_ATTEMPTS = 3

_PAGE = mmap.PAGESIZE
#: mincore sets bit 0 of a page's byte when the page is resident (the other bits are reserved):
#: bytes.translate keeps that bit, so the pages are counted in C, not one by one in Python.
_RESIDENT_BIT = bytes(i & 1 for i in range(256))


@functools.cache
def _libc():
    """libc with the signatures of mmap, munmap and mincore (residency is read with mincore)."""
    # The interpreter's own symbols (it links libc), not ctypes.util.find_library: importing ctypes.util
    # was the largest part of the eviction helper's start-up.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    return libc


def file_residency(path: str) -> tuple[int, int]:
    """(resident bytes, size) of one file, from mincore on a fresh read-only mapping."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, 0
        libc = _libc()
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), f"mmap failed for {path}")
        try:
            pages = (size + _PAGE - 1) // _PAGE
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), f"mincore failed for {path}")
            resident = bytes(vec).translate(_RESIDENT_BIT).count(1)
        finally:
            libc.munmap(addr, size)
        return min(resident * _PAGE, size), size
    finally:
        os.close(fd)


def residency(paths) -> dict:
    """Resident and total bytes over ``paths`` (missing files are skipped and counted)."""
    resident = total = missing = 0
    for path in paths:
        try:
            r, s = file_residency(path)
        except OSError:
            missing += 1
            continue
        resident += r
        total += s
    return {"resident_bytes": resident, "total_bytes": total, "files": len(paths) - missing,
            "missing_files": missing, "fraction": resident / total if total else 0.0}


def _advise(paths, advice: int) -> None:
    """``posix_fadvise(advice)`` on the whole of each file; a file that cannot be opened is passed over."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, advice)
        finally:
            os.close(fd)


def evict(paths) -> None:
    """Ask the kernel to drop each file's cached pages (no root needed)."""
    _advise(paths, os.POSIX_FADV_DONTNEED)


def read_into_cache(paths) -> None:
    """Read every file once so its pages are in the page cache (what "warm" means).

    Each file is first announced with ``posix_fadvise(WILLNEED)``, so the kernel reads ahead from all
    of them at once, and the reading below mostly copies pages that are already there
    (docs/measurements.md has what it saved after a cold sample).
    """
    paths = list(paths)
    _advise(paths, os.POSIX_FADV_WILLNEED)
    for path in paths:
        try:
            with open(path, "rb", buffering=0) as f:
                while f.read(1 << 20):
                    pass
        except OSError:
            continue


def drop_system_caches() -> None:
    """The system-wide drop (``echo 1 > /proc/sys/vm/drop_caches``); needs root."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
    except OSError as exc:
        raise PermissionError(
            f"cannot write /proc/sys/vm/drop_caches ({exc.strerror}): the system-wide drop needs root "
            f"and a writable /proc/sys; without --drop-caches the rootless per-file eviction is used"
        ) from None


def harness_pids() -> list[int]:
    """This process and its ancestors: the measuring harness (helper, measured child, runner...)."""
    pids, pid = [], os.getpid()
    while pid > 1 and len(pids) < 64:
        pids.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def mapped_files(pids) -> set[str]:
    """Files mapped into any of ``pids`` (their pages cannot be evicted while mapped)."""
    found = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and parts[5].startswith("/"):
                        found.add(os.path.realpath(parts[5].strip()))
        except OSError:
            continue
    return found


def evict_until_cold(paths, *, drop_caches: bool = False) -> dict:
    """Evict (up to three tries) and return the residency found.

    Files mapped by the measuring harness itself (this process and its ancestors) cannot be
    evicted by anyone while it runs; their resident bytes are reported as ``harness_bytes`` and
    by name, and the 1% rule (``cold``) applies to the rest: ``fraction`` counts everything,
    ``fraction_outside_harness`` what the rule judges. A file held by any *other* process still
    counts against the rule, so a busy machine gives "not cold", never a false cold number.
    """
    paths = list(paths)
    held = mapped_files(harness_pids()) & set(paths)
    found = {}
    for attempt in range(1, EVICT_ATTEMPTS + 1):
        if drop_caches:
            drop_system_caches()
        evict(paths)
        found = residency(paths)
        harness = residency(sorted(held))
        found["harness_bytes"] = harness["resident_bytes"]
        found["harness_files"] = sorted(held)
        outside = found["resident_bytes"] - harness["resident_bytes"]
        found["fraction_outside_harness"] = outside / found["total_bytes"] if found["total_bytes"] else 0.0
        found["attempts"] = attempt
        if found["fraction_outside_harness"] <= COLD_MAX_RESIDENT:
            break
    found["cold"] = found["fraction_outside_harness"] <= COLD_MAX_RESIDENT
    found["method"] = "drop_caches+fadvise" if drop_caches else "fadvise"
    return found

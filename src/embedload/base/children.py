"""The processes embedload starts: their environment, and their end (none outlives a run).

Every child (the measured probe, file discovery, ``-X importtime``, prepare) runs in a session
of its own, so a timeout, SIGTERM, SIGINT or an error ends its whole process group, a loader's
own subprocesses included. A watchdog, started *before* the child so that its start-up never
overlaps a measurement, holds the read end of a pipe: when embedload itself dies (even by
``kill -9``) the pipe closes, and the watchdog kills the group and removes the run's temporary
folders. On a benchmark machine an orphan is a silent co-tenant that skews every later timing.

The child's environment is an allow-list, not a copy of ours: tokens and cloud credentials are
not passed. ``EMBEDLOAD_PASS_ENV`` (comma-separated names) adds variables of your own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable

#: Variables a measured child may need: where to find programs, libraries, caches and models,
#: thread settings (they change the figures), locale, and asv's run identity (the cold helper
#: records residency under it). Anything else must be named in EMBEDLOAD_PASS_ENV.
ALLOWED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TEMP", "TMP", "LANG", "LANGUAGE", "TERM", "TZ",
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "LD_PRELOAD",
    "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_CACHE", "TRANSFORMERS_OFFLINE",
    "SENTENCE_TRANSFORMERS_HOME", "TORCH_HOME", "FASTEMBED_CACHE_PATH",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TOKENIZERS_PARALLELISM",
    "CUDA_VISIBLE_DEVICES",
    "ASV_COMMIT", "ASV_CONF_DIR", "ASV_ENV_NAME", "ASV_ENV_DIR", "ASV_ENV_TYPE", "ASV_BUILD_DIR", "ASV_RUN_MODE",
)
ALLOWED_PREFIXES = ("LC_", "EMBEDLOAD_")
PASS_ENV = "EMBEDLOAD_PASS_ENV"
#: Never a measurement that waits on the network.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def child_environ(extra: dict[str, str] | None = None, source: dict[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``source`` (default: our environment), offline, plus ``extra``."""
    source = os.environ if source is None else source
    passed = {name.strip() for name in source.get(PASS_ENV, "").split(",") if name.strip()}
    env = {k: v for k, v in source.items() if k in ALLOWED_ENV or k.startswith(ALLOWED_PREFIXES) or k in passed}
    env.update(OFFLINE_ENV)
    if extra:
        env.update(extra)
    return env


class Terminated(BaseException):
    """SIGTERM, raised where embedload is, so that cleanup (``finally``) runs as for Ctrl-C."""


def raise_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` (main thread only; a no-op elsewhere)."""

    def handler(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:
        pass


_WATCHDOG = r"""
import os, shutil, signal, sys
sys.stdout.write("ready\n"); sys.stdout.flush()
line = sys.stdin.readline()
pgid = int(line) if line.strip().isdigit() else 0
dirs = [d for d in sys.stdin.readline().rstrip("\n").split("\0") if d.strip()]
rest = sys.stdin.read()  # returns when embedload closes the pipe, or dies
if pgid > 0:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
if "disarm" not in rest:  # embedload died: nobody else will remove its folders
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
"""


class ChildTimeout(Exception):
    def __init__(self, timeout: float, stderr: str):
        super().__init__(f"timed out after {timeout:g} s")
        self.stderr = stderr


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def run_child(
    cmd: list[str], *, input: str | None = None, timeout: float, cwd: str | None = None,
    env: dict[str, str] | None = None, cleanup: Iterable[str] = (),
) -> subprocess.CompletedProcess:
    """Run ``cmd`` to its end in its own session; its whole group ends with it, whatever happens.

    Raises :class:`ChildTimeout` (with the child's stderr) after ``timeout`` seconds. The folders
    in ``cleanup`` are removed by the watchdog if embedload dies before removing them itself.
    """
    watchdog = subprocess.Popen([sys.executable, "-S", "-I", "-c", _WATCHDOG], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        watchdog.stdout.readline()  # started: its start-up is over before the child's begins
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=cwd, env=env, start_new_session=True)
        watchdog.stdin.write(f"{proc.pid}\n" + "\0".join(cleanup) + "\n")
        watchdog.stdin.flush()
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            stdout, stderr = proc.communicate()
            raise ChildTimeout(timeout, stderr) from None
        except BaseException:
            kill_group(proc.pid)
            proc.wait()
            raise
        kill_group(proc.pid)  # whatever the child left running in its group
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    finally:
        try:  # alive to get here: the folders are ours to remove
            watchdog.stdin.write("disarm\n")
            watchdog.stdin.close()
        except OSError:
            pass
        try:
            watchdog.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watchdog.kill()


def describe_exit(returncode: int) -> str:
    """``exit code 1``, or the signal's name for a child killed by one (``SIGSEGV``)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"

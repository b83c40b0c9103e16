"""A tiny asv project of someone else's, with two commits, run with the existing interpreter.

Its benchmarks read environment variables, so a run can plant a slowdown or a failure without
touching the suite.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BENCH = textwrap.dedent(
    """
    import os, time

    class Suite:
        number = 1
        repeat = 8
        rounds = 1
        warmup_time = 0

        def setup(self):
            if os.environ.get("FOREIGN_FAIL"):
                raise RuntimeError("planted failure")

        def time_sleepy(self):
            time.sleep(float(os.environ.get("FOREIGN_SLEEP", "0.01")))

        def track_steady(self):
            # A figure no commit changes, judged in the same run as the planted ones. Exact, so
            # the expected regression sets cannot flip: a timing here would be an A/A comparison
            # with its 5% false-alarm budget.
            return 10

    def track_widgets():
        return int(os.environ.get("FOREIGN_WIDGETS", "100"))
    """
)

CONF = """{
    "version": 1, "project": "foreign", "repo": ".", "branches": ["main"],
    "environment_type": "virtualenv", "benchmark_dir": "benchmarks",
    "results_dir": "results", "html_dir": "html", "env_dir": "env"
}"""


class ForeignSuite:
    machine = "foreignbox"

    def __init__(self, root: Path):
        self.root = root
        (root / "benchmarks").mkdir(parents=True)
        (root / "benchmarks" / "__init__.py").write_text("")
        (root / "benchmarks" / "bench_foreign.py").write_text(BENCH)
        (root / "asv.conf.json").write_text(CONF)
        self.home = root / "home"
        self.home.mkdir()
        self._git("init", "-q", "-b", "main")
        self._git("add", "-A")
        self._git("commit", "-q", "-m", "first")
        self._git("commit", "-q", "--allow-empty", "-m", "second")
        self._git("commit", "-q", "--allow-empty", "-m", "third")
        self.commits = self._git("rev-list", "--reverse", "HEAD").split()
        self.asv("machine", "--machine", self.machine, "--yes")

    def env(self, **extra):
        env = dict(os.environ, HOME=str(self.home), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
        env.update(extra)
        return env

    def _git(self, *args):
        return subprocess.run(["git", *args], cwd=self.root, env=self.env(), capture_output=True, text=True,
                              check=True).stdout.strip()

    def asv(self, *args, **env):
        return subprocess.run([sys.executable, "-m", "asv", *args], cwd=self.root, env=self.env(**env),
                              capture_output=True, text=True)

    def run(self, commit, record_samples=True, expect_failures=False, **env):
        args = ["run", "--machine", self.machine, "-E", f"existing:{sys.executable}", "--set-commit-hash", commit]
        if record_samples:
            args.append("--record-samples")
        out = self.asv(*args, **env)
        assert (out.returncode != 0) == expect_failures, out.stdout + out.stderr
        return out

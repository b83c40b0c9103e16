"""A clean GitHub runner, emulated: a workflow job's `run:` steps, in order, with only what a fresh
ubuntu runner has (tests/test_runner.py).

What each job gets:

- a new HOME, a fresh clone of the repository (``actions/checkout`` with ``fetch-depth: 0``: every
  branch as ``origin/*``, the event's commit checked out), a fresh Python venv first on PATH
  (``actions/setup-python``), no ``.venv``, no ``~/.cache/embedload``;
- pip limited to what the workflow names: no pip configuration file (this machine's points at
  local wheel folders and a local mirror), so PyPI as pip's default index, plus the indexes the
  workflow's ``env`` names. One mapping, and only one: the PyTorch CPU index, which a runner
  reaches and this machine cannot, is served by a local index holding this machine's CPU wheel of
  the pinned torch. pip's download cache is shared between jobs (as ``setup-python``'s ``cache:
  pip`` would be), which changes no source;
- embedload's git URL mapped to a local repository by git's ``url.<local>.insteadOf`` (the
  caller's ``git_env``), so that ``pip install "embedload @ git+https://…"`` works offline.

Other ``uses:`` steps (caches, artifacts, Pages) are recorded as skipped: they move files
between jobs or to GitHub, which no step here reads back.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

#: The index a runner installs torch's CPU build from (the workflows' PIP_EXTRA_INDEX_URL).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Each step's limit: the longest (make gate) takes about 10 minutes here.
STEP_TIMEOUT = 40 * 60


@dataclass
class Step:
    name: str
    status: str  # passed | failed | skipped
    returncode: int | None
    output: str  # the step's output, its tail kept
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"{self.status:<7} {self.name} (exit {self.returncode}, {self.seconds:.0f} s)"


def local_torch_index(where: Path, version: str) -> str:
    """A PEP 503 index serving this machine's local CPU wheel of torch ``version``: the stand-in for
    :data:`TORCH_CPU_INDEX`. Its file:// URL."""
    folders = [Path(p) for p in re.split(r"[\s]+", os.environ.get("PIP_FIND_LINKS", "")) if p] + [Path("/opt/wheels")]
    wheels = [w for folder in folders if folder.is_dir() for w in folder.glob(f"torch-{version}+cpu-*.whl")]
    if not wheels:
        raise RuntimeError(f"no local CPU wheel of torch {version} (looked in {', '.join(map(str, folders))}) to stand "
                           f"in for {TORCH_CPU_INDEX}")
    wheel = wheels[0]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (where / "torch").mkdir(parents=True, exist_ok=True)
    (where / "torch" / "index.html").write_text(
        f'<html><body><a href="{wheel.as_uri()}#sha256={digest}">{wheel.name}</a></body></html>\n')
    (where / "index.html").write_text('<html><body><a href="torch/">torch</a></body></html>\n')
    return where.as_uri()


class Runner:
    """Runs jobs of a workflow on clean emulated runners, each in a folder of its own under ``root``."""

    def __init__(self, root: Path, *, torch_index: str, git_env: dict[str, str]):
        self.root = root
        self.torch_index = torch_index
        self.git_env = git_env
        self.pip_cache = root / "pip-cache"
        self.count = 0

    def base_env(self, home: Path, temp: Path) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
            # pip: no configuration file (this machine's names local folders), PyPI as its default index
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_CACHE_DIR": str(self.pip_cache),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        if Path("/etc/ssl/certs/ca-certificates.crt").is_file():  # how this machine trusts PyPI's certificate
            env["PIP_CERT"] = "/etc/ssl/certs/ca-certificates.crt"
        return {**env, **self.git_env}

    def run_job(self, workflow_path: Path, job_name: str, *, remote: Path, event: str, sha: str, ref: str,
                base_ref: str | None = None, before: str | None = None, log=print) -> list[Step]:
        self.count += 1
        folder = self.root / f"job-{self.count:02d}-{job_name}"
        home, temp, workspace = folder / "home", folder / "temp", folder / "work"
        self.summary = temp / "step-summary.md"
        for d in (home, temp):
            d.mkdir(parents=True)
        workflow = yaml.safe_load(workflow_path.read_text())
        job = workflow["jobs"][job_name]
        github = {"github.sha": sha, "github.event_name": event, "github.ref": ref,
                  "github.base_ref": base_ref or "", "github.event.before": before or "0" * 40}
        env = self.base_env(home, temp)
        env.update({"GITHUB_SHA": sha, "GITHUB_REF": ref, "GITHUB_EVENT_NAME": event, "GITHUB_WORKSPACE": str(workspace),
                    "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_BASE_REF": base_ref or ""})
        for scope in (workflow.get("env") or {}, job.get("env") or {}):
            env.update({k: self._value(str(v), github) for k, v in scope.items()})
        steps: list[Step] = []
        failed = False
        for i, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {i + 1}"
            condition = str(step.get("if", ""))
            if failed and "always()" not in condition:
                steps.append(Step(name, "skipped", None, "an earlier step failed"))
                continue
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                result = self._checkout(remote, workspace, event, sha, ref, env)
            elif uses.startswith("actions/setup-python@"):
                result = self._setup_python(folder / "python", (step.get("with") or {}).get("python-version"), env)
            elif uses:
                result = Step(name, "skipped", None, f"{uses}: moves files between jobs or to GitHub; not emulated")
            else:
                result = self._run(step, workspace, temp / f"step-{i + 1}.sh", env, github)
            result.name = name
            log(f"  {result}")
            steps.append(result)
            failed = failed or result.status == "failed"
        return steps

    def _value(self, text: str, github: dict[str, str]) -> str:
        def expand(match):
            key = match.group(1).strip()
            if key not in github:
                raise ValueError(f"the emulated runner does not evaluate ${{{{ {key} }}}}")
            return github[key]

        text = re.sub(r"\$\{\{(.*?)\}\}", expand, text)
        return text.replace(TORCH_CPU_INDEX, self.torch_index)  # the one mapping (see the module docstring)

    def _checkout(self, remote: Path, workspace: Path, event: str, sha: str, ref: str, env: dict) -> Step:
        commands = [["git", "clone", "-q", str(remote), str(workspace)]]
        if event == "pull_request":
            commands.append(["git", "-C", str(workspace), "checkout", "-q", "--detach", sha])
        else:
            branch = ref.removeprefix("refs/heads/")
            commands.append(["git", "-C", str(workspace), "checkout", "-q", "-B", branch, sha])
        return self._commands("checkout", commands, env)

    def _setup_python(self, where: Path, version, env: dict) -> Step:
        wanted = str(version or "")
        have = f"{sys.version_info.major}.{sys.version_info.minor}"
        if wanted != have:
            return Step("setup-python", "failed", 1, f"python-version {wanted!r}: this machine has {have}")
        base = getattr(sys, "_base_executable", sys.executable)
        step = self._commands("setup-python", [[base, "-m", "venv", str(where)]], env)
        env["PATH"] = f"{where / 'bin'}{os.pathsep}{env['PATH']}"
        return step

    def _commands(self, name: str, commands: list[list[str]], env: dict) -> Step:
        output = []
        for command in commands:
            out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
            output.append(out.stdout + out.stderr)
            if out.returncode != 0:
                return Step(name, "failed", out.returncode, "".join(output)[-4000:])
        return Step(name, "passed", 0, "".join(output)[-4000:])

    def _run(self, step: dict, workspace: Path, script: Path, env: dict, github: dict) -> Step:
        import time

        script.write_text(self._value(step["run"], github))
        shell = step.get("shell")
        # GitHub's defaults: `bash -e {0}`; `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`
        if shell is None:
            command = ["bash", "-e", str(script)]
        elif shell == "bash":
            command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        else:
            command = shell.replace("{0}", str(script)).split()
        step_env = {**env, **{k: self._value(str(v), github) for k, v in (step.get("env") or {}).items()}}
        start = time.monotonic()
        out = subprocess.run(command, cwd=workspace, env=step_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=STEP_TIMEOUT)
        seconds = time.monotonic() - start
        return Step("", "passed" if out.returncode == 0 else "failed", out.returncode, out.stdout[-6000:], seconds)


def clean_workspaces(root: Path) -> None:
    """The jobs' folders hold GBs of environments: removed once their job is judged."""
    for folder in root.glob("job-*"):
        shutil.rmtree(folder, ignore_errors=True)

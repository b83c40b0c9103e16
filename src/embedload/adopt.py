"""``embedload init``: set up an application's repository to track its own load with asv.

Writes, and never overwrites (an existing file is left alone and what to merge is printed):

- ``asv.conf.json``: builds the application's wheel per commit (``--no-deps``), into an
  environment with the stack pinned to the versions installed here (torch, sentence-transformers,
  transformers) and embedload beside it;
- ``benchmarks/__init__.py`` and ``benchmarks/bench_embedload.py``: embedload's suite classes
  (:mod:`embedload.suite`) with the params of ``[tool.embedload.suite]``;
- ``[tool.embedload.suite]`` and ``[tool.embedload.targets]`` appended to ``pyproject.toml`` when
  absent;
- ``.github/workflows/embedload.yml``: on a pull request, measure the base and the head back to
  back and gate the head (``embedload gate``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .config import STRATEGIES, UsageError, load_config
from .files import write_new_file
from .models import DEFAULT_MODEL
from .runtimes import RUNTIME_NAMES
from .targets import DEFAULT_TARGETS

#: The stack pinned in the application's asv environment: the versions installed here.
PINNED = ("torch", "sentence-transformers", "transformers")
WHEELS_ENV = "EMBEDLOAD_WHEELS"

BENCH_SOURCE = '''"""This application's load, measured by embedload (written by `embedload init`).

What is measured is set in pyproject.toml, [tool.embedload.suite]: the loaders (module:callable,
called with (model_path, device), returning an object with encode), the models, built-in runtimes
and cache states. Each sample is one fresh interpreter that imports, initialises and encodes once;
every figure below comes from the same interpreters, 2 a round: run asv with `-a rounds=N` for
2N samples a figure (the workflow takes 10 rounds, 20 a side). See embedload's docs/adopt.md.
"""

from pathlib import Path

from embedload import harness, suite

SETTINGS = harness.configure(Path(__file__).resolve().parent.parent / "pyproject.toml")
_PARAMS = (harness.MODELS, harness.RUNTIMES, harness.CACHES)


class Stages(suite.Stages):
    params = _PARAMS


class Memory(suite.Memory):
    params = _PARAMS
'''

WORKFLOW = """# Written by `embedload init`: measure the pull request's base and head back to back, then gate.
name: embedload
on:
  pull_request:
jobs:
  load-time:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install embedload and asv
        run: python -m pip install {embedload_spec}
      - name: Measure base and head (10 rounds of 2 samples, interleaved)
        run: |
          asv machine --yes
          asv continuous -a rounds=10 --record-samples --interleave-rounds --show-stderr \\
            origin/${{{{ github.base_ref }}}} HEAD || true
      - name: Gate
        run: |
          embedload gate --commit HEAD --baseline origin/${{{{ github.base_ref }}}} --format markdown \\
            --output embedload-gate.md
          status=$?
          cat embedload-gate.md >> "$GITHUB_STEP_SUMMARY"
          exit $status
        shell: bash {{0}}
"""


@dataclass
class Written:
    path: Path
    status: str  # written | kept | appended
    note: str = ""


def parse_loader(text: str) -> tuple[str, str | None]:
    """``module:callable`` or ``module:callable=strategy``."""
    spec, _, strategy = text.partition("=")
    if spec.count(":") != 1 or not all(spec.split(":")):
        raise UsageError(f"--loader takes module:callable (optionally =strategy), e.g. myapp.embed:load=lazy; got {text!r}")
    if strategy and strategy not in STRATEGIES:
        raise UsageError(f"--loader {spec}: strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    return spec, strategy or None


def embedload_requirement(progress: Callable[[str], None]) -> str:
    """How the application's environment installs this embedload: a version, or a wheel of a local checkout."""
    dist = metadata.distribution("embedload")
    direct = dist.read_text("direct_url.json")
    url = json.loads(direct).get("url", "") if direct else ""
    if not url.startswith("file://"):
        return f"embedload=={dist.version}"
    source = Path(url[len("file://"):])
    if not (source / "pyproject.toml").is_file():
        return url[len("file://"):]  # an installed wheel file
    wheels = Path(_wheels_dir())
    wheels.mkdir(parents=True, exist_ok=True)
    progress(f"embedload is installed from the checkout {source}: building its wheel into {wheels}")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UsageError(f"could not build embedload's wheel from {source}: {tail}")
    wheel = wheels / f"embedload-{dist.version}-py3-none-any.whl"
    if not wheel.is_file():
        raise UsageError(f"pip built no {wheel.name} in {wheels}")
    return str(wheel)


def _wheels_dir() -> str:
    import os

    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "embedload" / "wheels"
    return os.environ.get(WHEELS_ENV) or str(default)


def asv_config(project: str, branch: str, embedload: str) -> dict:
    pins = {name: [metadata.version(name)] for name in PINNED}
    return {
        "version": 1,
        "project": project,
        "repo": ".",
        "branches": [branch],
        "dvcs": "git",
        "environment_type": "virtualenv",
        "pythons": [f"{sys.version_info.major}.{sys.version_info.minor}"],
        "matrix": {"req": pins, "env_nobuild": {"EMBEDLOAD_DEVICE": ["cpu"]}},
        # The application's wheel alone; its dependencies and embedload (with its own) are installed
        # by the first install command, and the application is reinstalled at each commit.
        "build_command": ["python -m pip wheel --no-deps -w {build_cache_dir} {build_dir}"],
        "install_command": [
            f"in-dir={{env_dir}} python -m pip install {embedload}",
            "in-dir={env_dir} python -m pip install {wheel_file}",
            "in-dir={env_dir} python -m pip install --no-deps --force-reinstall {wheel_file}",
        ],
        "uninstall_command": ["return-code=any python -m pip uninstall -y {project}"],
        "benchmark_dir": "benchmarks",
        "env_dir": ".asv/env",
        "results_dir": ".asv/results",
        "html_dir": ".asv/html",
        "build_cache_size": 8,
        "install_timeout": 1200,
        "default_benchmark_timeout": 600,
    }


def _toml_string_list(items) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def suite_toml(loaders: list[tuple[str, str | None]], models: list[str], runtimes: list[str], caches: list[str]) -> str:
    entries = ", ".join(
        f'{{ loader = "{spec}", strategy = "{strategy}" }}' if strategy else json.dumps(spec) for spec, strategy in loaders
    )
    lines = [
        "",
        "# What embedload's asv suite measures (benchmarks/bench_embedload.py): each loader is",
        "# module:callable, called with (model_path, device) and returning an object with encode.",
        "[tool.embedload.suite]",
        f"loaders = [{entries}]",
        f"models = {_toml_string_list(models)}",
        f"runtimes = {_toml_string_list(runtimes)}",
        f"caches = {_toml_string_list(caches)}",
    ]
    return "\n".join(lines) + "\n"


def targets_toml() -> str:
    body = "\n".join(f"{name} = {value:g}" for name, value in DEFAULT_TARGETS.items())
    return ("\n# What `embedload gate` holds the load to: seconds per stage, memory in MB (embedload's defaults).\n"
            f"[tool.embedload.targets]\n{body}\n")


def init_repository(
    root: Path,
    *,
    loaders: list[str],
    models: list[str] | None = None,
    runtimes: list[str] | None = None,
    caches: list[str] | None = None,
    workflow: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Written]:
    """Write the files that let ``root``'s application track its own load (see the module docstring)."""
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise UsageError(f"no pyproject.toml in {root}: run `embedload init` at the root of your application's repository")
    if not (root / ".git").exists():
        raise UsageError(f"{root} is not the root of a git repository: asv measures commits, so it needs one")
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{pyproject} is not valid TOML: {exc}") from None
    project = data.get("project", {}).get("name")
    if not project:
        raise UsageError(f"{pyproject} has no [project] name: asv builds the application as a package")
    section = data.get("tool", {}).get("embedload", {})
    parsed = [parse_loader(text) for text in loaders]
    if not parsed and "suite" not in section:
        configured = load_config(pyproject).loader()
        if not configured:
            raise UsageError("name your loader: embedload init --loader yourpackage.module:load_model "
                             "(a callable taking (model_path, device) and returning an object with encode)")
        parsed = [(configured, None)]
    bad = [r for r in runtimes or [] if r not in RUNTIME_NAMES]
    if bad:
        raise UsageError(f"--runtime {bad[0]} is not a runtime; expected one of {', '.join(RUNTIME_NAMES)}")
    bad = [c for c in caches or [] if c not in ("warm", "cold")]
    if bad:
        raise UsageError(f"--cache {bad[0]}: expected warm or cold")

    written: list[Written] = []
    embedload = embedload_requirement(progress)
    branch = _current_branch(root)
    conf = asv_config(project, branch, embedload)
    merge = {key: conf[key] for key in ("matrix", "build_command", "install_command", "uninstall_command")}
    written.append(_write(root / "asv.conf.json", json.dumps(conf, indent=4) + "\n",
                          "exists; left as it is. Merge these settings into it:\n" + json.dumps(merge, indent=4)))
    written.append(_write(root / "benchmarks" / "__init__.py", ""))
    written.append(_write(root / "benchmarks" / "bench_embedload.py", BENCH_SOURCE))
    appended = ""
    if "suite" not in section:
        appended += suite_toml(parsed, models or [DEFAULT_MODEL], runtimes or [], caches or ["warm"])
    if "targets" not in section:
        appended += targets_toml()
    if appended:
        text = pyproject.read_text(encoding="utf-8")
        write_new_file(pyproject, text + ("" if text.endswith("\n") else "\n") + appended, force=True)
        written.append(Written(pyproject, "appended", "[tool.embedload.suite] and/or [tool.embedload.targets]"))
    else:
        written.append(Written(pyproject, "kept", "[tool.embedload.suite] and [tool.embedload.targets] are there already"))
    if workflow:
        spec = "embedload" if embedload.endswith(".whl") else embedload
        written.append(_write(root / ".github" / "workflows" / "embedload.yml", WORKFLOW.format(embedload_spec=spec)))
    load_config(pyproject).suite(DEFAULT_MODEL)  # what was written reads back
    return written


def _write(path: Path, text: str, merge_note: str = "") -> Written:
    if path.exists():
        return Written(path, "kept", merge_note or "exists; left as it is")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_new_file(path, text)
    return Written(path, "written")


def _current_branch(root: Path) -> str:
    out = subprocess.run(["git", "symbolic-ref", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=False)
    return out.stdout.strip() or "main"


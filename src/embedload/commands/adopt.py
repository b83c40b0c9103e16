"""``embedload init``: set up an application's repository to track its own load with asv.

Writes, and never overwrites (an existing file is left alone and what to merge is printed):

- ``asv.conf.json``: builds the application's wheel per commit (``--no-deps``), into an
  environment with the stack pinned to the versions installed here (torch, sentence-transformers,
  transformers; torch's CPU build where ``PIP_EXTRA_INDEX_URL`` names its index, as the workflow
  does) and embedload beside it, installed from where it came from (:func:`embedload_requirement`);
- ``benchmarks/__init__.py`` and ``benchmarks/bench_embedload.py``: embedload's suite classes
  (:mod:`embedload.suite.classes`) with the params of ``[tool.embedload.suite]``;
- ``[tool.embedload.suite]`` appended to ``pyproject.toml`` when absent (targets are the project's
  to set: embedload's defaults are reported, never gated);
- ``.asv/`` added to ``.gitignore`` (asv's environments are GBs);
- ``.github/workflows/embedload.yml``: on a pull request, measure the base and the head back to
  back and gate the head; on a push, measure the new commits into the history kept in the branch
  ``asv-results`` and publish it to GitHub Pages.

Nothing written names a path of the machine that ran ``init``: a runner has none of them.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from embedload.base.config import STRATEGIES, UsageError, load_config
from embedload.base.files import write_new_file
from embedload.measure.runtimes import RUNTIME_NAMES
from embedload.models.registry import DEFAULT_MODEL
from embedload.results.results_branch import DEFAULT_BRANCH

#: The stack pinned in the application's asv environment and the workflow: the versions installed here.
PINNED = ("torch", "sentence-transformers", "transformers")
#: torch's CPU builds. PyPI's default Linux torch brings several GB of CUDA libraries; with this
#: index beside PyPI, pip takes the CPU build of the pinned version (``2.13.0+cpu`` sorts above ``2.13.0``).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: The rounds the written workflow takes: 10 of 2 samples for the gate (20 a side), 4 for the history.
GATE_ROUNDS, HISTORY_ROUNDS = 10, 4

BENCH_SOURCE = '''"""This application's load, measured by embedload (written by `embedload init`).

What is measured is set in pyproject.toml, [tool.embedload.suite]: the loaders (module:callable,
called with (model_path, device), returning an object with encode), the models, built-in runtimes
and cache states. Each sample is one fresh interpreter that imports, initialises and encodes once;
every figure below comes from the same interpreters, 2 a round: run asv with `-a rounds=N` for
2N samples a figure (the workflow takes 10 rounds, 20 a side). See embedload's docs/adopt.md.
"""

from pathlib import Path

from embedload.suite import classes, harness

SETTINGS = harness.configure(Path(__file__).resolve().parent.parent / "pyproject.toml")
_PARAMS = (harness.MODELS, harness.RUNTIMES, harness.CACHES)


class Stages(classes.Stages):
    params = _PARAMS


class Memory(classes.Memory):
    params = _PARAMS
'''

WORKFLOW = """# Written by `embedload init` (embedload's docs/adopt.md, "In CI").
# Pull requests: the base and the head measured in one asv run, their rounds interleaved, then the
# gate (its exit code is the check, its markdown the step summary). Pushes to {branch}: the new
# commits measured into the history, which is kept in the branch {results_branch}, then published
# to GitHub Pages (asv's dashboard and embedload's stage page).
name: embedload
on:
  pull_request:
  push:
    branches: [{branch}]
env:
  # torch's CPU build: PyPI's default Linux torch brings several GB of CUDA libraries.
  PIP_EXTRA_INDEX_URL: {torch_index}
jobs:
  gate:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install embedload and the stack
        run: python -m pip install {install}
      # asv exits 1 when it cannot measure (an environment or a build failed): the step fails there.
      # It exits 2 when benchmarks failed: the gate lists them and cannot judge (exit 2).
      - name: Measure base and head ({gate_rounds} rounds of 2 samples, interleaved)
        run: |
          asv machine --yes
          git rev-parse HEAD "origin/${{GITHUB_BASE_REF}}" |
            asv run HASHFILE:- -a rounds={gate_rounds} --record-samples --interleave-rounds --show-stderr ||
            [ $? -eq 2 ]
      - name: Gate
        run: |
          status=0
          embedload gate --commit HEAD --baseline "origin/${{GITHUB_BASE_REF}}" --format markdown \\
            --output embedload-gate.md || status=$?
          cat embedload-gate.md >> "$GITHUB_STEP_SUMMARY"
          exit "$status"

  history:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    permissions:
      contents: write
    env:
      # One asv machine name for every runner, so that the history reads as one machine.
      ASV_MACHINE: github-ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install embedload and the stack
        run: python -m pip install {install}
      - name: Restore the history from the branch {results_branch}
        run: embedload results-branch restore --branch {results_branch}
      - name: Measure the pushed commits not measured yet
        env:
          BEFORE: ${{{{ github.event.before }}}}
        run: |
          asv machine --machine "$ASV_MACHINE" --yes
          # the push's commits; the pushed one alone when the one before is unknown (a new branch, a force push)
          range="HEAD^!"
          if git cat-file -e "${{BEFORE}}^{{commit}}" 2>/dev/null; then range="${{BEFORE}}..HEAD"; fi
          asv run "$range" --skip-existing-commits -a rounds={history_rounds} --record-samples --show-stderr \\
            --machine "$ASV_MACHINE" || [ $? -eq 2 ]
      - name: Keep the history in the branch {results_branch}
        run: embedload results-branch save --branch {results_branch} --message "asv results at ${{GITHUB_SHA}}"
      - name: Publish (asv's dashboard, and embedload's stage page beside it)
        run: |
          asv publish
          embedload publish
      - uses: actions/upload-pages-artifact@v3
        with:
          path: .asv/html

  deploy:
    needs: history
    runs-on: ubuntu-latest
    permissions:
      pages: write
      id-token: write
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
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


_SPEC_HINT = ("pass --embedload-spec with what a runner can install, e.g. "
              "--embedload-spec 'embedload @ git+https://github.com/OWNER/embedload@TAG' or 'embedload==0.1.0'")


def embedload_requirement(spec: str | None = None, progress: Callable[[str], None] = lambda line: None) -> str:
    """What the application's environments install as embedload: ``spec`` when given, else where this one came from.

    PEP 610's ``direct_url.json`` says where pip took it: a VCS URL is pinned to its commit; an
    archive URL is kept with its hash; no record means an index, so its version. A folder or a file
    of this machine is refused: a runner has neither.
    """
    if spec is not None:
        spec = spec.strip()
        if not spec:
            raise UsageError("--embedload-spec is empty; " + _SPEC_HINT)
        if _names_local_path(spec):
            progress(f"--embedload-spec {spec} names a path of this machine: the files written work here, "
                     f"not on a CI runner")
        return spec
    dist = metadata.distribution("embedload")
    direct = dist.read_text("direct_url.json")
    if not direct:
        return f"embedload=={dist.version}"
    info = json.loads(direct)
    url = info.get("url", "")
    local = url.startswith("file:")
    vcs = info.get("vcs_info")
    if vcs and not local:
        requirement = f"embedload @ {vcs['vcs']}+{url}@{vcs['commit_id']}"
        if info.get("subdirectory"):
            requirement += f"#subdirectory={info['subdirectory']}"
        return requirement
    archive = info.get("archive_info")
    if archive is not None and not local:
        hashes = archive.get("hashes") or {}
        fragment = next((f"#{name}={value}" for name, value in sorted(hashes.items())), "")
        return f"embedload @ {url}{fragment}"
    where = url.removeprefix("file://")
    what = "a git repository" if vcs else "an archive" if archive is not None else "a folder"
    raise UsageError(f"embedload is installed from {what} of this machine ({where}), which a CI runner does not "
                     f"have; " + _SPEC_HINT)


def _names_local_path(spec: str) -> bool:
    target = spec.split(" @ ", 1)[-1].strip()
    for prefix in ("git+", "hg+", "svn+", "bzr+"):
        target = target.removeprefix(prefix)
    return target.startswith(("file:", "/", "./", "../", "~")) or Path(target).exists()


def stack_pins() -> dict[str, str]:
    """The stack's versions installed here, as an index has them (a local label such as ``+cpu`` dropped)."""
    return {name: metadata.version(name).split("+", 1)[0] for name in PINNED}


def asv_config(project: str, branch: str, embedload: str) -> dict:
    return {
        "version": 1,
        "project": project,
        "repo": ".",
        "branches": [branch],
        "dvcs": "git",
        "environment_type": "virtualenv",
        "pythons": [f"{sys.version_info.major}.{sys.version_info.minor}"],
        "matrix": {"req": {name: [version] for name, version in stack_pins().items()},
                   "env_nobuild": {"EMBEDLOAD_DEVICE": ["cpu"]}},
        # The application's wheel alone; its dependencies and embedload (with its own) are installed
        # by the first install command, and the application is reinstalled at each commit.
        "build_command": ["python -m pip wheel --no-deps -w {build_cache_dir} {build_dir}"],
        "install_command": [
            f"in-dir={{env_dir}} python -m pip install {shlex.quote(embedload)}",
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


def workflow_text(branch: str, embedload: str) -> str:
    install = " ".join(shlex.quote(f"{name}=={version}") for name, version in stack_pins().items())
    return WORKFLOW.format(
        branch=branch, results_branch=DEFAULT_BRANCH, torch_index=TORCH_CPU_INDEX,
        python=f"{sys.version_info.major}.{sys.version_info.minor}", install=f"{install} {shlex.quote(embedload)}",
        gate_rounds=GATE_ROUNDS, history_rounds=HISTORY_ROUNDS,
    )


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


def init_repository(
    root: Path,
    *,
    loaders: list[str],
    models: list[str] | None = None,
    runtimes: list[str] | None = None,
    caches: list[str] | None = None,
    workflow: bool = True,
    embedload_spec: str | None = None,
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
    embedload = embedload_requirement(embedload_spec, progress)
    branch = _current_branch(root)
    conf = asv_config(project, branch, embedload)
    merge = {key: conf[key] for key in ("matrix", "build_command", "install_command", "uninstall_command")}
    written.append(_write(root / "asv.conf.json", json.dumps(conf, indent=4) + "\n",
                          "exists; left as it is. Merge these settings into it:\n" + json.dumps(merge, indent=4)))
    written.append(_write(root / "benchmarks" / "__init__.py", ""))
    written.append(_write(root / "benchmarks" / "bench_embedload.py", BENCH_SOURCE))
    if "suite" not in section:
        text = pyproject.read_text(encoding="utf-8")
        appended = suite_toml(parsed, models or [DEFAULT_MODEL], runtimes or [], caches or ["warm"])
        write_new_file(pyproject, text + ("" if text.endswith("\n") else "\n") + appended, force=True)
        written.append(Written(pyproject, "appended", "[tool.embedload.suite]"))
    else:
        written.append(Written(pyproject, "kept", "[tool.embedload.suite] is there already"))
    written.append(_ignore_asv(root))
    if workflow:
        written.append(_write(root / ".github" / "workflows" / "embedload.yml", workflow_text(branch, embedload)))
    load_config(pyproject).suite(DEFAULT_MODEL)  # what was written reads back
    return written


def _ignore_asv(root: Path) -> Written:
    """``.asv/`` in ``.gitignore``: asv's environments (GBs) and results never go in a commit by accident."""
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(line.strip() in (".asv", ".asv/", "/.asv", "/.asv/") for line in text.splitlines()):
        return Written(path, "kept", ".asv/ is ignored already")
    write_new_file(path, text + ("" if not text or text.endswith("\n") else "\n")
                   + "# asv's environments and results (embedload init)\n.asv/\n", force=True)
    return Written(path, "appended" if text else "written", ".asv/")


def history_start(root: Path, loader_specs: list[str]) -> list[str]:
    """Where each loader's history starts: the commit that added its module's file, said in one line each."""
    lines = []
    for spec in loader_specs:
        module = spec.split(":", 1)[0]
        path = _module_file(root, module)
        if path is None:
            lines.append(f"{module}: no file for it in the working tree, so no commit range can be told")
            continue
        rel = path.relative_to(root).as_posix()
        added = _git_out(root, "log", "--diff-filter=A", "--format=%H", "--", rel).split()
        if not added:
            lines.append(f"{module} ({rel}) is not committed yet: its history starts at the commit that adds it, "
                         f"so commit it, then measure from there (`asv run HEAD^!` once it is HEAD)")
            continue
        first = added[-1]
        parent = _git_out(root, "rev-parse", "--verify", "--quiet", f"{first}^").strip()
        spec_range = f"{first[:8]}^..HEAD" if parent else "HEAD"
        count = _git_out(root, "rev-list", "--count", f"{first}^..HEAD" if parent else "HEAD").strip()
        lines.append(f"{module} ({rel}) exists from {first[:8]}: measure its history with "
                     f"`asv run \"{spec_range}\" -a rounds={HISTORY_ROUNDS} --record-samples` ({count} commit(s)); "
                     f"commits before it have nothing to measure")
    return lines


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")
    for base in (root / "src", root):
        for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts) / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _git_out(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False).stdout


def _write(path: Path, text: str, merge_note: str = "") -> Written:
    if path.exists():
        return Written(path, "kept", merge_note or "exists; left as it is")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_new_file(path, text)
    return Written(path, "written")


def _current_branch(root: Path) -> str:
    return _git_out(root, "symbolic-ref", "--short", "HEAD").strip() or "main"

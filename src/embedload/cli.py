"""``embedload`` command line: ``models``, ``probe``, ``show``.

Errors meant for people (unknown model, broken folder, missing results) print one clear message
and exit 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, load_config
from .models import DEFAULT_MODEL, ModelError, model_statuses, resolve_model
from .probe import DEFAULT_TIMEOUT, ProbeError, run_probe
from .report import format_bytes, format_probe, format_results_table
from .results import ResultsError, default_machine, load_commit_results, resolve_commit
from .runtimes import CACHE_STATES, RUNTIME_NAMES, NotAvailable

EXIT_USAGE = 2


class UserError(Exception):
    """Shown as ``embedload: error: <message>`` with exit code 2."""


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
    rows = [("model", "resolves", "source", "size", "path")]
    for s in statuses:
        if s.resolved:
            rows.append((s.name, "yes", s.resolved.source, format_bytes(s.resolved.size_bytes()), str(s.resolved.path)))
        else:
            rows.append((s.name, "no", "-", "-", s.summary or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    missing = [s for s in statuses if not s.resolved]
    if missing and args.verbose:
        for s in missing:
            print(f"\n{s.error}")
    elif missing:
        print(f"\n{len(missing)} model(s) not available; `embedload models -v` shows where each was looked for.")
    return 0


def _cmd_probe(args) -> int:
    config = load_config(args.config)
    model = resolve_model(args.model, config)
    try:
        result = run_probe(model, args.runtime, args.cache, timeout=args.timeout)
    except ProbeError as exc:
        tail = "\n".join(exc.stderr.strip().splitlines()[-15:])
        raise UserError(f"{exc}\n--- last lines of the child's stderr ---\n{tail}") from None
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_probe(result))
    return 0


def _cmd_show(args) -> int:
    results_dir = Path(args.results) if args.results else _results_dir_from_asv_conf()
    machine = args.machine or default_machine(results_dir)
    commit = resolve_commit(args.commit)
    results = load_commit_results(results_dir, machine, commit)
    print(format_results_table(results))
    return 0


def _results_dir_from_asv_conf(conf_path: str = "asv.conf.json") -> Path:
    """``results_dir`` from asv.conf.json, read with asv's own loader (it allows comments)."""
    path = Path(conf_path)
    if not path.is_file():
        raise UserError(f"no {conf_path} in {Path.cwd()}; run from the suite's folder or pass --results DIR")
    from asv import util

    try:
        conf = util.load_json(str(path), js_comments=True)
    except util.UserError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    return (path.parent / conf.get("results_dir", "results")).resolve()


def _get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedload",
        description="Measure how long an embedding model takes to become usable: import, init, first encode, memory.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="PYPROJECT", help="pyproject.toml with [tool.embedload] (default: $EMBEDLOAD_CONFIG, else the nearest one upwards)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("models", help="list the known models: whether each resolves, from where, size on disk")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("-v", "--verbose", action="store_true", help="show where each missing model was looked for")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("probe", help="run every stage once in a fresh process and print its figures")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"known name, hub id or folder (default: {DEFAULT_MODEL})")
    p.add_argument("--runtime", default="st-torch", choices=RUNTIME_NAMES)
    p.add_argument("--cache", default="warm", choices=CACHE_STATES)
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds before the child is killed (default: %(default)s)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_cmd_probe)

    p = sub.add_parser("show", help="print the suite's asv results for a commit as one table")
    p.add_argument("--results", metavar="DIR", help="asv results folder (default: results_dir in ./asv.conf.json)")
    p.add_argument("--machine", help="asv machine name (default: this machine, or the only one)")
    p.add_argument("--commit", default="HEAD", help="git ref or hash (default: HEAD)")
    p.set_defaults(func=_cmd_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _get_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UserError, ModelError, ConfigError, ResultsError, NotAvailable) as exc:
        print(f"embedload: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("embedload: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

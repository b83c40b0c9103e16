"""The eviction helper a cold sample spawns right before its timed code: evict, check, record.

``python -m embedload.measure.evict evict LIST_FILE`` evicts the listed files
(:func:`embedload.measure.pages.evict_until_cold`) and exits 3, so that no number is recorded,
when more than 1% of their bytes stay resident. ``residency LIST_FILE`` prints what is resident.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from embedload.base.reasons import REASONS_SUBDIR, file_stem
from embedload.measure.pages import evict_until_cold, residency


def _record(label: str, found: dict) -> None:
    """Keep each cold sample's residency beside asv's results (a no-op outside asv)."""
    commit, conf_dir, env_name = (os.environ.get(k) for k in ("ASV_COMMIT", "ASV_CONF_DIR", "ASV_ENV_NAME"))
    if not (commit and conf_dir and env_name):
        return
    path = Path(conf_dir) / REASONS_SUBDIR / f"{file_stem(commit, env_name)}.residency.jsonl"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps({"label": label, **found}) + "\n").encode())
        finally:
            os.close(fd)
    except OSError as exc:
        # The verdict above stands; only its record is lost, and that is said where asv shows it.
        print(f"embedload.measure.evict: could not record the residency in {path}: {exc}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedload.measure.evict", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("evict", help="evict the listed files; exit 3 if more than 1%% stays resident")
    p.add_argument("list_file", help="file with one path per line")
    p.add_argument("--label", default="", help="what is being made cold (for the record)")
    p.add_argument("--drop-caches", action="store_true", help="also drop the whole page cache (root)")
    p.add_argument("--json", metavar="FILE", help="write the residency found to FILE")
    p = sub.add_parser("residency", help="print the resident fraction of the listed files")
    p.add_argument("list_file")
    args = parser.parse_args(argv)
    paths = [line for line in Path(args.list_file).read_text().splitlines() if line]
    if args.command == "residency":
        print(json.dumps(residency(paths)))
        return 0
    try:
        found = evict_until_cold(paths, drop_caches=args.drop_caches)
    except PermissionError as exc:
        print(f"embedload.measure.evict: {exc}", file=sys.stderr)
        return 2
    _record(args.label, found)
    if args.json:
        Path(args.json).write_text(json.dumps(found))
    if not found["cold"]:
        print(
            f"embedload.measure.evict: not cold: {found['fraction_outside_harness']:.2%} of "
            f"{found['total_bytes'] / 1e6:.0f} MB in {found['files']} files still resident after "
            f"{found['attempts']} evictions ({args.label}); pages mapped by another running process, "
            f"or dirty pages, cannot be evicted",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

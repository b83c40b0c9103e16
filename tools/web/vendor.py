#!/usr/bin/env python
"""Copy the scripts and styles asv's dashboard loads from CDNs out of their npm packages.

    npm ci --prefix tools/web && python tools/web/vendor.py [--check]

asv's ``index.html`` loads jQuery, flot and its plugins, flot-orderbars, stupidtable, blueimp-md5
and bootstrap from CDNs, so its dashboard works nowhere offline. Each of them is a package of the
npm registry, pinned in ``tools/web/package.json`` (``package-lock.json`` holds each package's
sha512, which ``npm ci`` checks). This script copies the one file asv needs from each into
``src/embedload/web/vendor/`` and writes ``src/embedload/web/vendor.json``: per CDN address, the
package, its version, the file and its sha256. ``embedload publish`` serves them from the html
folder and rewrites asv's tags to them (``embedload.render.dashboard``); ``--check`` (run by the tests)
fails unless every vendored file is byte for byte its package's file.

Two differ from what asv names, because the registry does not carry asv's exact files: flot
0.8.3's package holds the unminified sources of cdnjs's minified builds (same version, same
code), and stupidtable 1.0.1 is not on the registry at all (``stupid-table-plugin`` 1.1.3, the
same author's package, whose ``$.fn.stupidtable`` asv calls the same way).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
WEB = HERE.parent.parent / "src" / "embedload" / "web"
FLOT = "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/"

#: (the address asv's index.html loads, package, file in the package, why it differs if it does)
FILES = [
    ("https://code.jquery.com/jquery-3.3.1.min.js", "jquery", "dist/jquery.min.js", ""),
    (FLOT + "jquery.flot.min.js", "flot", "jquery.flot.js", "unminified: the package holds no minified build"),
    (FLOT + "jquery.flot.time.min.js", "flot", "jquery.flot.time.js", "unminified"),
    (FLOT + "jquery.flot.selection.min.js", "flot", "jquery.flot.selection.js", "unminified"),
    (FLOT + "jquery.flot.categories.min.js", "flot", "jquery.flot.categories.js", "unminified"),
    ("https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js", "flot-orderbars",
     "js/jquery.flot.orderBars.js", ""),
    ("https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js", "stupid-table-plugin",
     "stupidtable.min.js", "1.1.3: 1.0.1 is not on the npm registry"),
    ("https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js", "blueimp-md5", "js/md5.min.js", ""),
    ("https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js", "bootstrap", "dist/js/bootstrap.min.js", ""),
    ("https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css", "bootstrap", "dist/css/bootstrap.min.css", ""),
]


def _package(name: str) -> tuple[Path, str]:
    root = MODULES / name
    try:
        version = json.loads((root / "package.json").read_text())["version"]
    except OSError:
        raise SystemExit(f"{root} is missing: run `npm ci --prefix {HERE}` first") from None
    return root, version


def manifest() -> list[dict]:
    out = []
    for url, name, inner, note in FILES:
        root, version = _package(name)
        data = (root / inner).read_bytes()
        out.append({"url": url, "package": name, "version": version, "source": inner,
                    "file": f"{name}-{version}/{Path(inner).name}", "sha256": hashlib.sha256(data).hexdigest(),
                    "note": note})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that src/embedload/web holds exactly these files (exit 1 if not)")
    args = parser.parse_args(argv)
    entries = manifest()
    vendor = WEB / "vendor"
    if args.check:
        committed = json.loads((WEB / "vendor.json").read_text())
        problems = [] if committed == entries else ["src/embedload/web/vendor.json differs from the packages"]
        for e in entries:
            path = vendor / e["file"]
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != e["sha256"]:
                problems.append(f"{path} is not {e['package']} {e['version']}'s {e['source']}")
        for p in problems:
            print(p, file=sys.stderr)
        print("vendored files: " + ("differ (run tools/web/vendor.py)" if problems else f"{len(entries)} match their packages"))
        return 1 if problems else 0
    shutil.rmtree(vendor, ignore_errors=True)
    for e in entries:
        target = vendor / e["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MODULES / e["package"] / e["source"], target)
    (WEB / "vendor.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(f"wrote {len(entries)} files into {vendor} and {WEB / 'vendor.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``embedload imports``: which distributions the import stage spends its time in, and why.

Runs ``python -X importtime`` of a runtime's import in several fresh processes, parses the tree,
attributes each module's *self* time to the top-level distribution that ships it, and takes the
median per distribution across runs. For each heavy distribution it shows the import chain that
pulls it in, e.g. ``sklearn ← sentence_transformers.util.similarity``.

``-X importtime`` prints one line per module, children before their parent, nested by two spaces::

    import time: self [us] | cumulative | imported package
    import time:       313 |        313 |     sklearn._config
    import time:      1518 |       1831 |   sklearn

The interpreter's own start-up imports are excluded: the child writes a marker to stderr right
before the measured import and another right after it.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from dataclasses import dataclass, field

from embedload.base.children import ChildTimeout, child_environ, run_child

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)\s*$")
START, END = "@@embedload-import-start", "@@embedload-import-end"
STDLIB = "python (stdlib)"

_CHILD = """
import sys
print({start!r}, file=sys.stderr, flush=True)
{code}
print({end!r}, file=sys.stderr, flush=True)
import json
from importlib import metadata
print(json.dumps({{"distributions": metadata.packages_distributions(), "stdlib": sorted(sys.stdlib_module_names)}}))
"""


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list[ImportNode] = field(default_factory=list)
    parent: ImportNode | None = None

    @property
    def top(self) -> str:
        return self.name.split(".")[0]


def parse_importtime(text: str) -> list[ImportNode]:
    """The import trees in ``text`` (roots in the order they finished). Other lines are ignored."""
    pending: dict[int, list[ImportNode]] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        self_us, cumulative_us, indent, name = match.groups()
        node = ImportNode(name, int(self_us), int(cumulative_us), len(indent) // 2)
        node.children = pending.pop(node.depth + 1, [])
        for child in node.children:
            child.parent = node
        pending.setdefault(node.depth, []).append(node)
    roots = pending.pop(0, [])
    # Lines deeper than any parent seen (a truncated capture) become roots of their own.
    for depth in sorted(pending):
        roots.extend(pending[depth])
    return roots


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node.children)


def between_markers(stderr: str) -> str:
    """The importtime lines printed between the child's start and end markers."""
    if START not in stderr or END not in stderr:
        raise ValueError("the child did not print its import markers; did the import fail?")
    return stderr.split(START, 1)[1].split(END, 1)[0]


def distribution_of(top: str, distributions: dict[str, list[str]], stdlib: set[str]) -> str:
    if top in distributions:
        return distributions[top][0]
    if top in stdlib or top.lstrip("_") in stdlib or top in sys.builtin_module_names:
        return STDLIB
    return f"(unattributed: {top})"


def attribute(roots: list[ImportNode], distributions: dict, stdlib: set[str]) -> dict[str, int]:
    """Self time (µs) per distribution."""
    totals: dict[str, int] = {}
    for node in walk(roots):
        dist = distribution_of(node.top, distributions, stdlib)
        totals[dist] = totals.get(dist, 0) + node.self_us
    return totals


def _root(node: ImportNode) -> ImportNode:
    while node.parent is not None:
        node = node.parent
    return node


def entries(roots: list[ImportNode], distributions: dict, stdlib: set[str], links: int = 4) -> dict[str, tuple[str, int]]:
    """Per distribution: the chain that pulls in its biggest entry point, and that entry's cumulative µs.

    The chain climbs from the entry module until it reaches a module of the distribution being
    imported (the root's), e.g. ``sklearn.metrics ← sentence_transformers.util.similarity``;
    longer chains keep their first links and that last one, with ``…`` between.
    """
    dist = lambda n: distribution_of(n.top, distributions, stdlib)  # noqa: E731
    best: dict[str, ImportNode] = {}
    for node in walk(roots):
        d = dist(node)
        if (node.parent is None or dist(node.parent) != d) and (d not in best or node.cumulative_us > best[d].cumulative_us):
            best[d] = node
    out = {}
    for d, node in best.items():
        target = dist(_root(node))
        names, cur = [node.name], node.parent
        while cur is not None:
            names.append(cur.name)
            if dist(cur) == target:
                break
            cur = cur.parent
        if len(names) > links + 1:
            names = names[:links] + ["…", names[-1]]
        out[d] = (" ← ".join(names), node.cumulative_us)
    return out


def run_importtime(import_code: str, python: str | None = None, timeout: float = 300) -> tuple[list[ImportNode], dict, set]:
    child = _CHILD.format(start=START, end=END, code=import_code)
    interpreter = python or sys.executable
    try:
        proc = run_child([interpreter, "-X", "importtime", "-c", child], env=child_environ(), timeout=timeout)
    except ChildTimeout:
        raise RuntimeError(f"the import took longer than {timeout:g} s") from None
    except OSError as exc:
        raise RuntimeError(f"cannot run {interpreter}: {exc.strerror}") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
        raise RuntimeError(f"the import failed: {lines[-1] if lines else proc.returncode}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return parse_importtime(between_markers(proc.stderr)), info["distributions"], set(info["stdlib"])


def profile_imports(import_code: str, runs: int = 5, python: str | None = None, progress=None) -> dict:
    """Median self time per distribution over ``runs`` fresh processes, with chains and coverage."""
    per_run, totals, entry_runs = [], [], []
    for i in range(runs):
        roots, distributions, stdlib = run_importtime(import_code, python)
        per_run.append(attribute(roots, distributions, stdlib))
        totals.append(sum(r.cumulative_us for r in roots))
        entry_runs.append(entries(roots, distributions, stdlib))
        if progress:
            progress(f"[{i + 1}/{runs}] import took {totals[-1] / 1e6:.2f} s under -X importtime")
    names = sorted({d for run in per_run for d in run})
    medians = {d: statistics.median(run.get(d, 0) for run in per_run) for d in names}
    total = statistics.median(totals)
    unattributed = sum(v for d, v in medians.items() if d.startswith("(unattributed"))
    ranked = sorted(medians.items(), key=lambda kv: -kv[1])
    chain_of = {d: entry_runs[0][d][0] for d in entry_runs[0]}
    entry_cumulative = {d: statistics.median(run[d][1] for run in entry_runs if d in run) for d in names}
    return {
        "schema": "embedload.imports/1",
        "import": import_code,
        "runs": runs,
        "total_seconds": total / 1e6,
        "attributed_fraction": 1 - unattributed / total if total else 0.0,
        "distributions": [
            {"distribution": d, "self_seconds": v / 1e6, "share": v / total if total else 0.0,
             "chain": chain_of.get(d, ""), "entry_cumulative_seconds": entry_cumulative[d] / 1e6}
            for d, v in ranked
        ],
    }


def format_imports(result: dict, top: int = 12) -> str:
    lines = [
        f"import: {result['import']}",
        f"median cumulative time under -X importtime: {result['total_seconds']:.2f} s over {result['runs']} fresh processes "
        f"(importtime adds its own overhead; compare shares, not absolute times)",
        "",
        f"{'distribution':<26} {'self':>9} {'share':>6} {'via':>9}  pulled in by (via: cumulative time of that import)",
    ]
    for row in result["distributions"][:top]:
        lines.append(f"{row['distribution']:<26} {row['self_seconds'] * 1000:>7.0f} ms {row['share']:>6.1%} "
                     f"{row['entry_cumulative_seconds'] * 1000:>6.0f} ms  {row['chain']}")
    rest = result["distributions"][top:]
    if rest:
        lines.append(f"{'(' + str(len(rest)) + ' more)':<28} {sum(r['self_seconds'] for r in rest) * 1000:>7.0f} ms")
    lines.append("")
    lines.append(f"attributed to named distributions (stdlib included): {result['attributed_fraction']:.1%} of the cumulative time")
    return "\n".join(lines)

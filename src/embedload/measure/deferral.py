"""``embedload imports --defer``: what a lazy import would save, measured on the whole load.

Each arm of a what-if is the whole load (import, init, first encode) in fresh processes, through
the probe's measuring child (:mod:`embedload.measure.probe`). A deferring arm runs :data:`HOOK` first, as
the child's untimed prelude: a meta-path finder that hands the named modules a loader which
creates the module (``__name__``, ``__path__``, ``__spec__`` set, so its submodules still import)
and runs its code only when an attribute of it is first read. Nothing of the user's stack is
edited; the hook lives in the measured interpreter only. The arm "as is" runs the same hook with
nothing to defer, so both sides pay its (tiny) cost, and the arms alternate run by run.

Only Python source modules are deferred: an extension module (``.so``) or a namespace package is
loaded as usual and said so. ``from M import name`` reads ``name`` from M at once, so it runs M
there and then: that is what "needed" reports, with who read what.

Verdicts, one per deferring arm (docs/imports.md):

``breaks``   a stage raised in a deferring run, or the vector changed: the first line of the error
``win``      the first vector came sooner (one-sided Mann-Whitney, p < :data:`ALPHA`), by at least
             half of what the import saved, the vector unchanged and no stage failed
``moved``    the module was first used in init or the first encode: its cost moved there
``needed``   the import itself used the module, so nothing was deferred
``no-gain``  deferred and never used on the way to the first vector, but no saving could be seen
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from asv_runner.statistics import compute_stats

from embedload.base.catalog import PARTS
from embedload.base.power import one_sided_p
from embedload.base.units import format_seconds
from embedload.measure.probe import ProbeError, run_probe
from embedload.measure.runtime_folders import cosine

SCHEMA = "embedload.deferral/1"
#: One-sided false-alarm rate of a `win` (per arm).
ALPHA = 0.05
#: A deferred run's first vector matches the load's as is at least this well (cosine).
MIN_COSINE = 0.9999
#: A `win` keeps at least this share of what the import saved (the rest may reappear later).
MIN_KEPT = 0.5
STAGES = (*PARTS, "total")

#: The what-if hook, run in the measured child before the first stage. ``{modules}`` is a set literal.
HOOK = '''
import dis as _el_dis, importlib.abc as _el_abc, importlib.machinery as _el_machinery, sys as _el_sys, time as _el_time, types as _el_types

_EL_DEFER = {modules}
_EL_IMPORT_FROM, _EL_IMPORT_NAME = _el_dis.opmap["IMPORT_FROM"], _el_dis.opmap["IMPORT_NAME"]
EMBEDLOAD_REPORT = {{"deferred": [], "not_deferrable": [], "triggers": [], "lazy_names": []}}


def _el_frame():
    frame = _el_sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen") or frame.f_code.co_filename == "<prelude>"):
        frame = frame.f_back
    return frame


def _el_run(module, attr):
    """Run a deferred module's code now (its first use), recording who read what."""
    loader = module.__dict__.pop("__embedload_loader__", None)
    if loader is None:
        return False
    frame = _el_frame()
    module.__class__ = _el_types.ModuleType
    module.__spec__.loader = module.__loader__ = loader
    EMBEDLOAD_REPORT["triggers"].append({{"module": module.__name__, "attribute": attr, "at": _el_time.perf_counter(),
                                         "by": frame.f_globals.get("__name__", "?") if frame is not None else "?"}})
    loader.exec_module(module)
    return True


class _ElLazyName:
    """What `from M import name` binds while M is deferred, as PEP 810's `lazy from M import name` would:
    the first use (a call, an attribute, a subclass, isinstance) runs M and stands for M.name from then on."""

    __slots__ = ("_el_module", "_el_name", "_el_value")

    def __init__(self, module, name):
        object.__setattr__(self, "_el_module", module)
        object.__setattr__(self, "_el_name", name)

    def _el_get(self):
        try:
            return object.__getattribute__(self, "_el_value")
        except AttributeError:
            pass
        value = getattr(object.__getattribute__(self, "_el_module"), object.__getattribute__(self, "_el_name"))
        object.__setattr__(self, "_el_value", value)
        return value

    def __call__(self, *args, **kwargs):
        return self._el_get()(*args, **kwargs)

    def __getattr__(self, attr):
        return getattr(self._el_get(), attr)

    def __mro_entries__(self, bases):
        return (self._el_get(),)

    def __instancecheck__(self, obj):
        return isinstance(obj, self._el_get())

    def __subclasscheck__(self, cls):
        return issubclass(cls, self._el_get())

    def __getitem__(self, key):
        return self._el_get()[key]

    def __or__(self, other):
        return self._el_get() | other

    def __ror__(self, other):
        return other | self._el_get()

    def __eq__(self, other):
        return self._el_get() == other

    def __hash__(self):
        return hash(self._el_get())

    def __repr__(self):
        return repr(self._el_get())


class _ElDeferred(_el_types.ModuleType):
    def __getattr__(self, attr):
        if attr == "__path__" and self.__spec__.submodule_search_locations is None:
            raise AttributeError(attr)  # the import system asking whether a plain module is a package
        if "__embedload_loader__" not in self.__dict__:
            raise AttributeError(attr)
        frame = _el_frame()
        at = frame.f_code.co_code[frame.f_lasti] if frame is not None else None
        if _EL_LAZY_NAMES and not attr.startswith("__") and at in (_EL_IMPORT_FROM, _EL_IMPORT_NAME):
            # `from M import name` (IMPORT_NAME asks first, through importlib's fromlist, then IMPORT_FROM
            # reads): a stand-in, unless `name` is a submodule of package M, which the import system imports
            locations = self.__spec__.submodule_search_locations
            if at == _EL_IMPORT_NAME and locations is not None and _el_machinery.PathFinder.find_spec(
                    self.__name__ + "." + attr, list(locations)) is not None:
                raise AttributeError(attr)
            EMBEDLOAD_REPORT["lazy_names"].append([self.__name__, attr, frame.f_globals.get("__name__", "?")])
            return _ElLazyName(self, attr)
        _el_run(self, attr)
        return getattr(self, attr)


class _ElDeferringLoader(_el_abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__dict__["__embedload_loader__"] = self.loader
        module.__class__ = _ElDeferred


class _ElFinder(_el_abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _EL_DEFER:
            return None
        for finder in _el_sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is None:
                continue
            if isinstance(spec.loader, (_el_machinery.SourceFileLoader, _el_machinery.SourcelessFileLoader)):
                spec.loader = _ElDeferringLoader(spec.loader)
                EMBEDLOAD_REPORT["deferred"].append(name)
            else:
                EMBEDLOAD_REPORT["not_deferrable"].append([name, type(spec.loader).__name__])
            return spec
        return None


_EL_LAZY_NAMES = {lazy_names}
_el_sys.meta_path.insert(0, _ElFinder())
'''


def _can_show(n: int, m: int) -> bool:
    """Whether the one-sided U test of n against m samples can reach p < ALPHA: 1 / C(n+m, n) < ALPHA,
    in whole numbers (at n = m = 3 the smallest p is exactly 0.05)."""
    return n > 0 and m > 0 and math.comb(n + m, n) * ALPHA > 1


def min_runs() -> int:
    """The fewest fresh processes a side with which a `win` can be shown at all."""
    n = 1
    while not _can_show(n, n):
        n += 1
    return n


def hook_source(modules, lazy_names: bool = True) -> str:
    """The hook deferring ``modules``; ``lazy_names``: `from M import name` binds a stand-in (PEP 810's
    `lazy from`), else it runs M there and then (PEP 810's `lazy import M` alone)."""
    return HOOK.format(modules=repr(set(modules)) if modules else "set()", lazy_names=bool(lazy_names))


def parse_modules(text: str) -> tuple[str, ...]:
    """``a,b.c`` -> ('a', 'b.c'); raises ValueError with what was expected."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", n)]
    if not names or bad:
        raise ValueError(f"--defer takes module names separated by commas (e.g. scipy.stats,sympy) or 'auto'; "
                         f"got {text!r}")
    return names


@dataclass
class Arm:
    label: str
    modules: tuple[str, ...]
    runs: list[dict] = field(default_factory=list)
    failure: dict | None = None  # {"run", "stage", "error"}: the first failed run; the arm stops there

    def times(self, stage: str) -> list[float]:
        return [run["stages"][stage]["seconds"] for run in self.runs]


def _failure(exc: ProbeError, run: int) -> dict:
    """Which stage raised, and the first line of its error, from the child's traceback."""
    stages = re.findall(r'File "<stage (\w+)>"', exc.stderr)
    headline = str(exc)
    cause = headline.split("): ", 1)[1] if "): " in headline else headline
    return {"run": run, "stage": stages[0] if stages else None, "error": cause.splitlines()[0][:300]}


def _median(figure: dict) -> str:
    return f"{format_seconds(figure['median'])} ±{format_seconds(figure['spread'])}"


def _signed(seconds: float) -> str:
    """A saving: '+' sooner, '-' later."""
    return ("+" if seconds >= 0 else "-") + format_seconds(abs(seconds))


def _cosine(a, b) -> float | None:
    """The vectors' cosine (prepared.cosine, as `embedload prepare` checks them); 0 when their lengths differ."""
    if not a or not b:
        return None
    return cosine(a, b) if len(a) == len(b) else 0.0


def _spread(values: list[float]) -> float:
    """Half the interquartile range, from asv_runner's statistics as the profile's figures are."""
    if len(values) < 2:
        return 0.0
    _, stats = compute_stats(values, 1)
    return (stats["q_75"] - stats["q_25"]) / 2


def _stage_at(run: dict, at: float) -> str:
    for stage in PARTS:
        if at <= run["stages"][stage]["end"]:
            return stage if at >= run["stages"][stage]["start"] else "before"
    return "after"


def measure(model, runtime, deferrals: list[tuple[str, ...]], runs: int, *, python: str | None = None,
            timeout: float = 300.0, progress: Callable[[str], None] | None = None) -> list[Arm]:
    """The load as is and with each deferral, ``runs`` fresh processes each, the arms alternating."""
    arms = [Arm("as is", ())] + [Arm(",".join(mods), mods) for mods in deferrals]
    for i in range(runs):
        for arm in arms:
            if arm.failure is not None:
                continue
            try:
                arm.runs.append(run_probe(model, runtime, "warm", python=python, timeout=timeout,
                                          prelude=hook_source(arm.modules)))
            except ProbeError as exc:
                if not arm.modules:
                    raise  # the load fails with nothing deferred: not a what-if's finding
                arm.failure = _failure(exc, i + 1)
            if progress:
                done = arm.failure and arm.failure["run"] == i + 1
                what = f"failed in {arm.failure['stage'] or 'the child'}" if done else \
                    f"first vector after {format_seconds(arm.runs[-1]['stages']['total']['seconds'])}"
                progress(f"[{i + 1}/{runs}] {arm.label}: {what}")
    return arms


def _summary(arm: Arm) -> dict:
    return {stage: {"median": statistics.median(arm.times(stage)), "spread": _spread(arm.times(stage)),
                    "n": len(arm.runs)} for stage in STAGES} if arm.runs else {}


def _first_uses(arm: Arm) -> list[dict]:
    """Per deferred module: the stage of its first use in most runs, what was read, and by whom."""
    uses: dict[str, list[dict]] = {}
    for run in arm.runs:
        report = run.get("prelude_report") or {}
        for trigger in report.get("triggers", []):
            if trigger["module"] in arm.modules:
                uses.setdefault(trigger["module"], []).append(dict(trigger, stage=_stage_at(run, trigger["at"])))
    out = []
    for module in arm.modules:
        found = uses.get(module, [])
        stages = [u["stage"] for u in found]
        stage = max(set(stages), key=stages.count) if stages else None
        first = next((u for u in found if u["stage"] == stage), None)
        out.append({"module": module, "stage": stage, "runs_used": len(found), "runs": len(arm.runs),
                    "attribute": first and first["attribute"], "by": first and first["by"]})
    return out


def judge(arms: list[Arm]) -> dict:
    """The what-if's document (schema :data:`SCHEMA`): every figure, and a verdict per deferring arm."""
    base = arms[0]
    reference = base.runs[0].get("vector") if base.runs else None
    base_cos = [c for c in (_cosine(reference, r.get("vector")) for r in base.runs[1:]) if c is not None]
    doc = {"schema": SCHEMA, "alpha": ALPHA, "min_cosine": MIN_COSINE, "min_kept": MIN_KEPT,
           "as_is": {"runs": len(base.runs), "stages": _summary(base),
                     "vector_min_cosine": min(base_cos) if base_cos else None},
           "deferrals": []}
    for arm in arms[1:]:
        doc["deferrals"].append(_judge_arm(base, arm, reference))
    return doc


def _judge_arm(base: Arm, arm: Arm, reference) -> dict:
    row = {"modules": list(arm.modules), "runs": len(arm.runs), "failure": arm.failure, "stages": _summary(arm)}
    row["as_is_total"] = _summary(base).get("total")
    reports = [run.get("prelude_report") or {} for run in arm.runs]
    row["not_deferrable"] = [list(x) for x in sorted({tuple(x) for r in reports for x in r.get("not_deferrable", [])})]
    # `from M import name` while M was deferred: [M, name, the importing module], once each
    row["lazy_names"] = [list(x) for x in sorted({tuple(x) for r in reports for x in r.get("lazy_names", [])})]
    row["first_use"] = _first_uses(arm)
    cosines = [c for c in (_cosine(reference, r.get("vector")) for r in arm.runs) if c is not None]
    row["vector_min_cosine"] = min(cosines) if cosines else None
    if arm.runs:
        med = {s: statistics.median(base.times(s)) - statistics.median(arm.times(s)) for s in STAGES}
        row["saved"] = med  # positive: sooner with the deferral; negative: the time moved there
        p = one_sided_p(arm.times("total"), base.times("total"))
        row["p_sooner"] = p[1] if p else None
    else:
        row["saved"], row["p_sooner"] = {}, None
    row["verdict"], row["why"] = _verdict(row)
    return row


def _verdict(row: dict) -> tuple[str, str]:
    if row["failure"]:
        f = row["failure"]
        where = f"the {f['stage'].replace('_', ' ')} stage" if f["stage"] else "the measured process"
        return "breaks", f"{where} raised in run {f['run']}: {f['error']}"
    cosine = row["vector_min_cosine"]
    if cosine is not None and cosine < MIN_COSINE:
        return "breaks", f"the vector changed: cosine {cosine:.6f} against the load as is (at least {MIN_COSINE} expected)"
    saved, uses = row["saved"], row["first_use"]
    kept = saved["total"] >= MIN_KEPT * max(saved["import"], 0.0)
    powered = _can_show(row["runs"], row["as_is_total"]["n"]) if row["as_is_total"] else False
    if powered and row["p_sooner"] is not None and row["p_sooner"] < ALPHA and saved["total"] > 0 and kept:
        base, mine = row["as_is_total"], row["stages"]["total"]
        return "win", (f"the first vector came {format_seconds(saved['total'])} sooner ({_median(mine)} deferred, "
                       f"{_median(base)} as is; p = {row['p_sooner']:.2g}), vector unchanged")
    later = [u for u in uses if u["stage"] in ("init", "first_encode")]
    if later:
        u = later[0]
        return "moved", (f"{u['module']} is first used in {u['stage'].replace('_', ' ')} ({u['by']} reads "
                         f"{u['module']}.{u['attribute']}): saved {_signed(saved['import'])} in the import, "
                         f"{_signed(saved['total'])} to the first vector")
    if uses and all(u["stage"] in ("import", "before") for u in uses):
        u = uses[0]
        return "needed", (f"the import itself uses {u['module']} ({u['by']} reads {u['module']}.{u['attribute']}), "
                          f"so nothing was deferred")
    if not powered:
        return "no-gain", (f"{row['runs']} run(s) a side cannot show a saving at p < {ALPHA:g} "
                           f"(at least {min_runs()} are needed); {_signed(saved['total'])} to the first vector")
    never = [u["module"] for u in uses if u["stage"] is None]
    if row["not_deferrable"] and not never:
        return "needed", "not deferrable: " + ", ".join(f"{m} ({kind})" for m, kind in row["not_deferrable"])
    return "no-gain", (f"deferred and not used before the first vector, but no saving could be seen "
                       f"({_signed(saved['total'])} to the first vector, p = {row['p_sooner']:.2g})"
                       if row["p_sooner"] is not None else "nothing measured")


def own_tops(runtime) -> set[str]:
    """Top-level module names of the runtime's own distributions (torch, sentence-transformers, ...)."""
    from importlib import metadata

    own = {d.lower() for d in runtime.distributions}
    tops = {d.replace("-", "_") for d in own}
    for top, dists in metadata.packages_distributions().items():
        if any(d.lower() in own for d in dists):
            tops.add(top)
    return tops


def auto_candidates(imports: dict, runtime, top: int = 3) -> list[tuple[str, str]]:
    """(entry module, its chain) of the ``top`` distributions that ``embedload imports`` ranks highest,
    leaving out the stdlib and the runtime's own distributions (the load needs those by definition)."""
    own = {d.lower() for d in runtime.distributions}
    out = []
    for row in imports["distributions"]:
        name = row["distribution"]
        if name.lower() in own or name.startswith("(") or name.startswith("python ") or not row["chain"]:
            continue
        out.append((row["chain"].split(" ← ")[0], row["chain"]))
        if len(out) == top:
            break
    return out


def scout(model, runtime, module: str, own_tops: set[str], *, python=None, timeout=300.0, climbs: int = 4,
          progress=None) -> tuple[str | None, list[dict]]:
    """One fresh process per step: defer ``module``; if the import itself reads it, climb to the module
    that read it, until one is left alone by the import or the reader is the runtime's own package.
    Returns (the module worth measuring, or None; the steps: module, reader, attribute)."""
    steps: list[dict] = []
    for _ in range(climbs):
        try:
            run = run_probe(model, runtime, "warm", python=python, timeout=timeout, prelude=hook_source((module,)))
        except ProbeError as exc:
            steps.append({"module": module, "failure": _failure(exc, 1)})
            return None, steps
        report = run.get("prelude_report") or {}
        if module not in report.get("deferred", []):
            steps.append({"module": module, "not_deferrable": True})
            return None, steps
        uses = [t for t in report.get("triggers", []) if t["module"] == module]
        stage = _stage_at(run, uses[0]["at"]) if uses else None
        step = {"module": module, "stage": stage, "by": uses[0]["by"] if uses else None,
                "attribute": uses[0]["attribute"] if uses else None}
        steps.append(step)
        if progress:
            progress(f"scout {module}: " + (f"read in {stage} by {step['by']} ({step['attribute']})" if uses
                                            else "not used before the first vector"))
        if stage not in ("import", "before"):
            return module, steps
        reader = step["by"]
        if not reader or reader.split(".")[0] in own_tops or reader in ("__main__", "?", "__embedload_probe__"):
            return None, steps
        module = reader
    return None, steps


def auto(model, runtime, ranked: dict, *, top: int = 3, python=None, timeout: float = 300.0,
         progress=None) -> tuple[list[tuple[str, ...]], list[dict], dict[str, str]]:
    """``--defer auto`` before measuring: the deferrals worth measuring (each module that the scouting
    left standing alone, then all of them together), what each candidate's scouting found, and the
    candidates' chains. ``ranked`` is :func:`embedload.measure.importtime.profile_imports`'s result."""
    own = own_tops(runtime)
    survivors: list[str] = []
    findings: list[dict] = []
    chains: dict[str, str] = {}
    for module, chain in auto_candidates(ranked, runtime, top=top):
        chains[module] = chain
        found, steps = scout(model, runtime, module, own, python=python, timeout=timeout, progress=progress)
        findings.append({"candidate": module, "chain": chain, "steps": steps, "measured": found})
        if found and found not in survivors:
            survivors.append(found)
    deferrals = [(m,) for m in survivors] + ([tuple(survivors)] if len(survivors) > 1 else [])
    return deferrals, findings, chains


def advice(row: dict, chains: dict[str, str] | None = None) -> str:
    """What the user can do today to get a win without a hook: where the deferred modules are imported,
    and by what (the stand-ins the hook bound for `from M import name`)."""
    chains = chains or {}
    readers: dict[str, list[str]] = {}
    for module, name, importer in row.get("lazy_names", []):
        readers.setdefault(importer, []).append(f"from {module} import {name}")
    where = "; ".join(f"{importer}: {', '.join(sorted(set(lines)))}" for importer, lines in sorted(readers.items())[:4])
    chain = "; ".join(chains[m] for m in row["modules"] if m in chains)
    first = row["modules"][0]
    return (f"to get it without a hook: where your own code imports {', '.join(row['modules'])}, import it inside "
            f"the function that uses it; where a library does ({where or chain or 'see `embedload imports`'}), "
            f"that is an upstream change (an issue citing this measurement); on Python 3.15, PEP 810's "
            f"`lazy import {first}` and `lazy from {first} import ...` at those lines do the same")


def format_scouting(findings: list[dict]) -> list[str]:
    """--defer auto: what each candidate's scouting found, one fresh process a step."""
    lines = ["candidates (the entry modules of the distributions ranked highest), scouted one fresh process a step:"]
    for f in findings:
        parts = []
        for step in f["steps"]:
            if step.get("failure"):
                parts.append(f"{step['module']} breaks the load ({step['failure']['error']})")
            elif step.get("not_deferrable"):
                parts.append(f"{step['module']} cannot be deferred (not a Python source module)")
            elif step["stage"] in ("import", "before"):
                parts.append(f"{step['module']} is read during the import by {step['by']} (.{step['attribute']})")
            else:
                parts.append(f"{step['module']} is " + (f"first used in {step['stage']}" if step["stage"]
                                                       else "not used before the first vector") + ": measured")
        last = f["steps"][-1] if f["steps"] else {}
        end = "" if f["measured"] or last.get("failure") or last.get("not_deferrable") else \
            "; stop: the reader is the runtime's own package (only a change there defers it), or no step is left"
        lines.append(f"  {f['candidate']} (via {f['chain']}):")
        lines.append("    " + " -> ".join(parts) + end)
    return lines


def format_text(doc: dict, header: str = "", chains: dict[str, str] | None = None) -> str:
    lines = [header] if header else []
    if doc.get("auto") is not None:
        lines += format_scouting(doc["auto"]) + [""]
    as_is = doc["as_is"]
    if not as_is:
        lines.append("nothing left to measure: every candidate is read during the import, by code that would have to "
                     "change first (an upstream issue for the chain shown, or PEP 810's `lazy import` on 3.15)")
        return "\n".join(lines)
    lines.append(f"the load as is: {as_is['runs']} fresh processes; each deferral the same, alternating run by run")
    lines.append("times: median ±half the interquartile range; saved: the median as is minus the median with the deferral")
    lines.append("")
    head = f"{'deferred':<32} {'import':>18} {'init':>18} {'first encode':>18} {'first vector':>18}"
    lines.append(head)

    def cells(stages):
        return " ".join(f"{format_seconds(stages[s]['median']) + ' ±' + format_seconds(stages[s]['spread']):>18}"
                        for s in STAGES)

    if as_is["stages"]:
        lines.append(f"{'(nothing: as is)':<32} {cells(as_is['stages'])}")
    for row in doc["deferrals"]:
        if row["stages"]:
            lines.append(f"{','.join(row['modules']):<32} {cells(row['stages'])}")
            lines.append(f"{'  saved':<32} " + " ".join(f"{_signed(row['saved'][s]):>18}" for s in STAGES))
        else:
            lines.append(f"{','.join(row['modules']):<32} {'(no run completed)':>18}")
    lines.append("")
    for row in doc["deferrals"]:
        lines.append(f"{row['verdict']:<8} {','.join(row['modules'])}: {row['why']}")
        if row["verdict"] == "win":
            lines.append(f"         {advice(row, chains)}")
    cos = as_is.get("vector_min_cosine")
    if cos is not None:
        lines.append("")
        lines.append(f"vector check: cosine against the first run as is; runs as is agree to {cos:.6f} at the least")
    return "\n".join(lines)

"""Reading asv results through asv's own results API (``asv.results``), for any asv suite.

One :class:`Measurement` per benchmark and parameter combination, with its samples and stats
when asv recorded them, and a status: ``ok``, ``skipped`` (asv's NaN, from a
``NotImplementedError`` in setup) or ``failed`` (asv's None). asv does not save a skip's or a
failure's reason; the suite keeps it in its reasons files (:mod:`embedload.base.reasons`).

Anything asv's loader would trust but cannot hold (wrong types, wrong lengths, inf) is a
:class:`ResultsError` naming the file: a malformed input is never judged and never a traceback.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from embedload.base import reasons
from embedload.measure.conditions import Conditions, read_conditions
from embedload.results.git_refs import HEX, git_commit

NOT_RUN = "not run (a --bench regex left it out), or skipped with no reason kept (asv keeps none)"


def not_run_reason(commit: str) -> str:
    """Why a combination asv stored as skipped has no reason: one text for every benchmark, so that
    what a --bench regex left out is one line of a report, not one per benchmark."""
    return f"{NOT_RUN}: `asv run -a rounds=4 --show-stderr --bench '<benchmark>' {commit[:8]}^!` runs one"


class ResultsError(RuntimeError):
    """Results that cannot be read or do not exist; the message says what to do."""


@dataclass
class Measurement:
    benchmark: str
    params: dict[str, str]
    value: float | None
    unit: str | None
    status: str  # ok | skipped | failed
    reason: str = ""
    stats: dict | None = None
    samples: list[float] | None = None
    env_name: str = ""
    env_vars: dict = field(default_factory=dict)
    #: asv's benchmark version (a hash of its code): results of different versions don't compare
    version: str | None = None
    #: The measured stack's key versions (sentence-transformers, transformers), to tell apart
    #: results of one commit from environments with different stacks.
    stack: str = ""
    #: The parameter values exactly as asv stored them (``repr`` strings): asv's identity of a
    #: combination, whatever names benchmarks.json gives them.
    param_values: tuple = ()
    #: What else the machine did while it was measured (the suite's timings; None: not recorded)
    conditions: Conditions | None = None

    @property
    def asv_name(self) -> str:
        """The name ``asv compare`` prints: ``bench(v1, v2)`` with the stored values."""
        return f"{self.benchmark}({', '.join(self.param_values)})" if self.param_values else self.benchmark

    @property
    def label(self) -> str:
        if not self.params:
            return self.benchmark
        return f"{self.benchmark}({', '.join(self.params.values())})"

    def spread(self) -> tuple[float, float] | None:
        """(q25, q75) when asv recorded them."""
        if self.stats and self.stats.get("q_25") is not None:
            return self.stats["q_25"], self.stats["q_75"]
        return None


@dataclass
class CommitResults:
    commit: str
    machine: str
    measurements: list[Measurement]
    versions: dict[str, str]
    files: list[str]
    #: asv environment name -> its requirement versions (results may come from several stacks)
    versions_by_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def ok(self) -> list[Measurement]:
        return [m for m in self.measurements if m.status == "ok"]


def _unquote(value: str) -> str:
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    return parsed if isinstance(parsed, str) else value


def check_machine_file(results_dir: Path, machine: str) -> None:
    """asv skips, with only a warning, every result beside a corrupt machine.json: say so instead."""
    from asv import util
    from asv.machine import Machine

    path = results_dir / machine / "machine.json"
    try:
        data = util.load_json(str(path), api_version=Machine.api_version)
        ok = isinstance(data, dict) and isinstance(data.get("machine"), str)
        problem = "it names no machine"
    except util.UserError as exc:
        ok, problem = False, str(exc).strip().splitlines()[0]
    except OSError as exc:
        ok, problem = False, exc.strerror
    if not ok:
        raise ResultsError(
            f"{path} is not a valid asv machine file ({problem}); asv ignores every result beside it. "
            f"Restore it (asv writes it on each `asv run --machine {machine}`) before gating"
        )


def list_machines(results_dir: Path) -> list[str]:
    if not results_dir.is_dir():
        return []
    return sorted(p.name for p in results_dir.iterdir() if (p / "machine.json").is_file())


def default_machine(results_dir: Path) -> str:
    """The machine asv would use here, or the only one with results."""
    from asv.machine import Machine

    machines = list_machines(results_dir)
    try:
        name = Machine.get_unique_machine_name()
    except Exception:
        name = None
    if name in machines:
        return name
    if len(machines) == 1:
        return machines[0]
    if not machines:
        raise ResultsError(f"no asv results in {results_dir}: run `asv run` first (or pass --results DIR)")
    raise ResultsError(f"{results_dir} holds results of several machines ({', '.join(machines)}); pick one with --machine")


def load_benchmark_info(results_dir: Path) -> dict:
    """asv's ``benchmarks.json`` (param names, units); empty if absent."""
    path = results_dir / "benchmarks.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path} is corrupt ({exc}); re-run `asv run` to rewrite it") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for k, v in data.items() if k != "version"):
        raise ResultsError(f"{path} is not asv's benchmark list (an object of benchmark objects); re-run `asv run` to rewrite it")
    data.pop("version", None)
    return data


def load_commit_results(
    results_dir: Path | str, machine: str, commit: str, reasons_dir: Path | str | None = None, *, role: str = "--commit"
) -> CommitResults:
    """Every measurement asv stored for ``commit`` on ``machine`` (all environments).

    ``commit`` is a git ref or a hash (or prefix) of results, looked up as ``asv compare`` does:
    git first, then the results' own commit hashes (no git, or a shallow clone). The returned
    ``commit`` is the results' full hash. ``role`` names the option in errors.
    Skip and failure reasons come from the suite's reasons files (``reasons_dir``, default
    ``<results_dir>/../reasons``), since asv does not save them.
    """
    from asv import util
    from asv.results import get_result_hash_from_prefix, iter_results_paths

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ResultsError(f"results folder {results_dir} does not exist: run `asv run` first, or pass --results DIR")
    if not (results_dir / machine / "machine.json").is_file():
        known = ", ".join(list_machines(results_dir)) or "none"
        raise ResultsError(f"no results for machine {machine!r} in {results_dir} (machines with results: {known})")
    check_machine_file(results_dir, machine)
    full = git_commit(commit)
    if full is None and not HEX.fullmatch(commit):
        raise ResultsError(f"{role} {commit!r} is neither a git ref here ({Path.cwd()}) nor a commit hash of the results")
    prefix = full or commit
    try:
        short = get_result_hash_from_prefix(str(results_dir), machine, prefix)
    except util.UserError as exc:
        raise ResultsError(f"{role} {commit!r} is ambiguous: {str(exc).split(': ', 1)[-1]}; give more digits") from None
    if short is None:
        raise ResultsError(
            f"no results for {role} {commit[:12]} on machine {machine!r} in {results_dir}: "
            f"run `asv run {commit[:12]}^!` first"
        )
    info = load_benchmark_info(results_dir)
    reasons_dir = Path(reasons_dir) if reasons_dir else results_dir.parent / "reasons"
    measurements: list[Measurement] = []
    versions: dict[str, str] = {}
    versions_by_env: dict[str, dict[str, str]] = {}
    files = []
    hashes = set()
    for root, filename, _machine in iter_results_paths(str(results_dir / machine)):
        if filename.split("-")[0] != short:
            continue
        path = os.path.join(root, filename)
        result = _load_results_file(path, machine)
        if full and result.commit_hash != full:
            continue  # another commit that shares the 8-digit prefix of the file name
        hashes.add(result.commit_hash)
        files.append(path)
        env_versions = _requirements(result)
        versions.update(env_versions)
        versions_by_env[result.env_name] = env_versions
        recorded = reasons.read_reasons(reasons_dir, result.commit_hash, result.env_name)
        found = read_conditions(reasons_dir.parent / "conditions", result.commit_hash, result.env_name)
        measurements.extend(_measurements(result, info, recorded, source=path, conditions=found))
    if len(hashes) != 1:
        found = ", ".join(sorted(hashes)) or "none"
        raise ResultsError(f"{role} {commit[:12]}: the results files named {short} hold commits {found}; pass a full hash")
    return CommitResults(commit=hashes.pop(), machine=machine, measurements=measurements, versions=versions,
                         files=files, versions_by_env=versions_by_env)


def _load_results_file(path: str, machine: str | None = None):
    """``asv.results.Results.load``; anything it cannot read is a ResultsError naming the file."""
    from asv import util
    from asv.results import Results

    try:
        result = Results.load(path, machine_name=machine)
    except util.UserError as exc:
        raise ResultsError(f"cannot read {path}: {str(exc).strip().splitlines()[0]}") from None
    except Exception as exc:  # asv's loader trusts the file's shape: any error here is a malformed file
        raise ResultsError(f"{path} is not a valid asv results file ({type(exc).__name__}: {exc})") from None
    if not isinstance(result.commit_hash, str) or not HEX.fullmatch(result.commit_hash):
        raise ResultsError(f"{path} is not a valid asv results file (commit_hash {result.commit_hash!r} is not a hash)")
    if not isinstance(result.env_name, str):
        raise ResultsError(f"{path} is not a valid asv results file (env_name {result.env_name!r} is not a string)")
    return result


def measurements_from_results_file(path: Path, results_dir: Path | None = None) -> tuple[list[Measurement], str]:
    """One saved asv results file (e.g. a copy kept as a baseline), read with asv's API.

    Param names come from ``benchmarks.json`` in ``results_dir`` (or two folders up from the file,
    asv's layout); without it they are named param1, param2... Returns the file's commit hash too.
    """
    result = _load_results_file(str(path))
    info = {}
    for folder in [d for d in (results_dir, Path(path).resolve().parent.parent) if d]:
        info = load_benchmark_info(Path(folder))
        if info:
            break
    reasons_dir = (Path(results_dir) if results_dir else Path(path).resolve().parent.parent).parent / "reasons"
    recorded = reasons.read_reasons(reasons_dir, result.commit_hash, result.env_name)
    found = read_conditions(reasons_dir.parent / "conditions", result.commit_hash, result.env_name)
    return _measurements(result, info, recorded, source=str(path), conditions=found), result.commit_hash


#: The requirements whose versions name a stack.
STACK_PACKAGES = ("sentence-transformers", "transformers")


def _requirements(result) -> dict[str, str]:
    """The environment's requirements (``matrix.req``) as {distribution: version}, extras dropped."""
    reqs = getattr(result, "_requirements", None)
    if not isinstance(reqs, dict):
        return {}
    return {str(name).split("[")[0]: str(version) for name, version in reqs.items()}


def _stack(result) -> str:
    reqs = _requirements(result)
    return ", ".join(f"{name} {reqs[name]}" for name in STACK_PACKAGES if reqs.get(name))


#: The statistics asv compare reads from a stats entry (its interval test and its ± figure).
_STATS_NEEDED = ("ci_99_a", "ci_99_b", "q_25", "q_75")


def is_finite_number(x) -> bool:
    """A real number (not a bool), finite."""
    return _number(x) and math.isfinite(x)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_shape(result, key: str, params, values, stats, samples, source: str) -> int:
    """The number of combinations, after checking that asv's columns for ``key`` agree with it."""

    def bad(what: str) -> ResultsError:
        return ResultsError(f"{source} is malformed: benchmark {key!r} {what}; re-run `asv run` for that commit")

    if not isinstance(params, list) or not all(isinstance(p, list) and all(isinstance(v, str) for v in p) for p in params):
        raise bad("has params that are not lists of strings")
    n = math.prod(len(p) for p in params)
    # asv pads a short row with None ("failed") when it reads it: check the stored row itself.
    raw = {"results": result._results.get(key), "samples": result._samples.get(key), "stats": (result._stats or {}).get(key)}
    for column, stored in raw.items():
        if stored is not None and (not isinstance(stored, list) or len(stored) != n):
            got = len(stored) if isinstance(stored, list) else type(stored).__name__
            raise bad(f"has {got} stored {column} for a parameter grid of {n}")
    if values is not None:
        if not isinstance(values, list) or len(values) != n:
            raise bad(f"has {len(values) if isinstance(values, list) else 'no list of'} result(s) for a grid of {n}")
        for v in values:
            if v is not None and not (_number(v) and (math.isfinite(v) or math.isnan(v))):
                raise bad(f"has a result {v!r} that is not a finite number, NaN (skipped) or null (failed)")
    for column, rows in (("stats", stats), ("samples", samples)):
        if rows is None:
            continue
        if not isinstance(rows, list) or len(rows) != n:
            raise bad(f"has {column} for {len(rows) if isinstance(rows, list) else 'no list of'} combination(s) of {n}")
        for row in rows:
            if row is None:
                continue
            items = row.values() if column == "stats" and isinstance(row, dict) else row
            if not isinstance(row, dict if column == "stats" else list) or not all(
                (x is None and column == "stats") or is_finite_number(x) for x in items
            ):
                raise bad(f"has {column} that are not finite numbers")
            if column == "stats" and row and not all(_number(row.get(k)) for k in _STATS_NEEDED):
                raise bad(f"has stats without {', '.join(_STATS_NEEDED)} (what asv compare reads)")
    version = result.benchmark_version.get(key)
    if version is not None and not isinstance(version, str):
        raise bad(f"has a version {version!r} that is not a string")
    return n


def _measurements(result, info: dict, recorded: dict | None = None, *, source: str = "results",
                  conditions: dict | None = None) -> list[Measurement]:
    recorded, conditions = recorded or {}, conditions or {}
    stack = _stack(result)
    out = []
    try:
        keys = sorted(result.get_all_result_keys())
    except Exception as exc:
        raise ResultsError(f"{source} is malformed ({type(exc).__name__}: {exc}); re-run `asv run` for that commit") from None
    for key in keys:
        try:
            params = result.get_result_params(key)
            values = result.get_result_value(key, params)
            stats = result.get_result_stats(key, params)
            samples = result.get_result_samples(key, params)
        except Exception as exc:
            raise ResultsError(f"{source} is malformed: benchmark {key!r} ({type(exc).__name__}: {exc})") from None
        _check_shape(result, key, params, values, stats, samples, source)
        bench = info.get(key, {})
        names = bench.get("param_names")
        # The results' own params are the identity of a combination (as in asv compare); the
        # names in benchmarks.json may belong to another version of the benchmark.
        if not isinstance(names, list) or len(names) != len(params) or not all(isinstance(n, str) for n in names):
            names = [f"param{i + 1}" for i in range(len(params))]
        unit = bench.get("unit") if isinstance(bench.get("unit"), str) else None
        combos = list(itertools.product(*params))  # one empty tuple when unparametrized, as asv does
        benchmark_class = key.rsplit(".", 1)[0]
        for i, combo in enumerate(combos):
            plain = tuple(_unquote(v) for v in combo)
            value = values[i] if values is not None else None
            if value is None:
                status = "failed"
            elif math.isnan(value):
                status, value = "skipped", None
            else:
                status = "ok"
            reason = ""
            if status != "ok":
                again = f"`asv run -a rounds=4 --show-stderr --bench '{key}' {result.commit_hash[:8]}^!`"
                reason = recorded.get((benchmark_class, tuple(str(v) for v in plain))) or (
                    not_run_reason(result.commit_hash) if status == "skipped"
                    else f"{status}; asv keeps no reason: {again} shows it")
            out.append(
                Measurement(
                    benchmark=key,
                    params=dict(zip(names, plain)),
                    value=value,
                    unit=unit,
                    status=status,
                    reason=reason,
                    stats=(stats[i] if stats else None) if status == "ok" else None,
                    samples=(samples[i] if samples else None) if status == "ok" else None,
                    env_name=result.env_name,
                    env_vars={str(k): str(v) for k, v in (result.env_vars or {}).items()} if isinstance(result.env_vars, dict) else {},
                    version=result.benchmark_version.get(key),
                    stack=stack,
                    param_values=tuple(combo),
                    conditions=conditions.get((benchmark_class, tuple(str(v) for v in plain))) if status == "ok" else None,
                )
            )
    return out

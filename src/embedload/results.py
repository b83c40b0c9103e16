"""Reading asv results through asv's own results API (``asv.results``), for any asv suite.

One :class:`Measurement` per benchmark and parameter combination, with its samples and stats
when asv recorded them, and a status: ``ok``, ``skipped`` (asv's NaN, from a
``NotImplementedError`` in setup) or ``failed`` (asv's None). The reason for a skip or a failure
comes from the stderr asv stored for the benchmark.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import reasons

#: Our suite's benchmarks: (name, stage or figure).
TIMING_BENCHMARKS = {
    "bench_timing.Import.timeraw_import": "import",
    "bench_timing.Load.timeraw_init": "init",
    "bench_timing.Load.timeraw_first_encode": "first_encode",
    "bench_timing.Load.timeraw_total": "total",
}
PROBE_BENCHMARKS = {
    "bench_probe.Memory.track_peak_rss_import": "peak_rss_import",
    "bench_probe.Memory.track_peak_rss_init": "peak_rss_init",
    "bench_probe.Memory.track_peak_rss_first_encode": "peak_rss_first_encode",
    "bench_probe.Memory.track_peak_rss_total": "peak_rss_total",
    "bench_probe.Memory.track_peak_increase_init": "peak_increase_init",
    "bench_probe.Memory.track_peak_increase_first_encode": "peak_increase_first_encode",
    "bench_probe.Memory.track_rss_growth_total": "rss_growth",
    "bench_probe.Encode.track_steady_encode": "steady_encode",
    "bench_probe.Check.track_vector_cosine": "vector_cosine",
}


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


def _reasons_from_stderr(stderr: str, param_names: list[str]) -> dict[tuple, str]:
    """Map a params tuple to the skip/failure reason asv captured on stderr.

    asv prints ``For parameters: 'a', 'b'`` before each combination's output.
    """
    reasons = {}
    blocks = re.split(r"^For parameters: (.*)$", stderr or "", flags=re.M)
    # blocks: [preamble, params1, text1, params2, text2, ...]
    for params_text, text in zip(blocks[1::2], blocks[2::2]):
        try:
            values = ast.literal_eval(f"({params_text},)")
        except (ValueError, SyntaxError):
            continue
        reasons[tuple(str(v) for v in values)] = _first_reason(text)
    if not param_names and stderr:
        reasons[()] = _first_reason(stderr)
    return reasons


def _first_reason(text: str) -> str:
    skipped = re.search(r"asv: skipped: \w+\((['\"])(.*)\1\)", text)
    if skipped:
        return skipped.group(2).replace("\\'", "'")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^\w*(Error|Exception)\b", line)]
    return (errors[-1] if errors else lines[-1] if lines else "")[:500]


def resolve_commit(ref: str, repo: Path | None = None) -> str:
    """A git ref (branch, tag, HEAD, hash prefix) as a full hash."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise ResultsError("git is not installed; pass a full commit hash") from None
    if out.returncode != 0:
        if re.fullmatch(r"[0-9a-f]{4,40}", ref):
            return ref  # maybe a commit that only exists in the results
        raise ResultsError(f"unknown commit {ref!r}: git rev-parse could not resolve it in {repo or Path.cwd()}")
    return out.stdout.strip()


def asv_env_python(env_name: str | None = None, config: str | Path = "asv.conf.json") -> str:
    """The interpreter of an asv environment of ``config``: the one named ``env_name``, or the only one.

    Read with asv's own environment code, so the folder is the one ``asv run`` uses.
    """
    from asv import environment, util
    from asv.config import Config

    try:
        conf = Config.load(str(config))
    except util.UserError as exc:
        raise ResultsError(f"cannot read {config}: {exc}") from None
    envs = list(environment.get_environments(conf, [], verbose=False))
    if env_name is None and len(envs) != 1:
        raise ResultsError(f"{config} defines {len(envs)} environments; name one")
    for env in envs:
        if env_name is None or env.name == env_name:
            try:
                return env.find_executable("python")
            except OSError:
                raise ResultsError(
                    f"asv environment {env.name} is not built yet ({env._path}): run `asv setup --config {config}`"
                ) from None
    raise ResultsError(f"no environment named {env_name!r} in {config} (it has: {', '.join(e.name for e in envs) or 'none'})")


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
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path} is corrupt ({exc}); re-run `asv run` to rewrite it") from None
    data.pop("version", None)
    return data


def load_commit_results(
    results_dir: Path | str, machine: str, commit: str, reasons_dir: Path | str | None = None
) -> CommitResults:
    """Every measurement asv stored for ``commit`` on ``machine`` (all environments).

    Skip and failure reasons come from the suite's reasons files (``reasons_dir``, default
    ``<results_dir>/../reasons``), since asv does not save them.
    """
    from asv import util
    from asv.results import Results, get_result_hash_from_prefix, iter_results_paths

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ResultsError(f"results folder {results_dir} does not exist: run `asv run` first, or pass --results DIR")
    if not (results_dir / machine / "machine.json").is_file():
        known = ", ".join(list_machines(results_dir)) or "none"
        raise ResultsError(f"no results for machine {machine!r} in {results_dir} (machines with results: {known})")
    try:
        short = get_result_hash_from_prefix(str(results_dir), machine, commit)
    except util.UserError as exc:
        raise ResultsError(str(exc)) from None
    if short is None:
        raise ResultsError(
            f"no results for commit {commit[:12]} on machine {machine!r} in {results_dir}: "
            f"run `asv run {commit[:12]}^!` first"
        )
    info = load_benchmark_info(results_dir)
    reasons_dir = Path(reasons_dir) if reasons_dir else results_dir.parent / "reasons"
    measurements: list[Measurement] = []
    versions: dict[str, str] = {}
    versions_by_env: dict[str, dict[str, str]] = {}
    files = []
    for root, filename, _machine in iter_results_paths(str(results_dir / machine)):
        if filename.split("-")[0] != short:
            continue
        path = os.path.join(root, filename)
        try:
            result = Results.load(path, machine_name=machine)
        except util.UserError as exc:
            raise ResultsError(f"cannot read {path}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ResultsError(f"{path} is corrupt ({type(exc).__name__}: {exc})") from None
        files.append(path)
        env_versions = _requirements(result)
        versions.update(env_versions)
        versions_by_env[result.env_name] = env_versions
        recorded = reasons.load(reasons_dir, result.commit_hash, result.env_name)
        measurements.extend(_measurements(result, info, recorded))
    return CommitResults(commit=commit, machine=machine, measurements=measurements, versions=versions, files=files,
                         versions_by_env=versions_by_env)


def measurements_from_results_file(path: Path, results_dir: Path | None = None) -> list[Measurement]:
    """One saved asv results file (e.g. a copy kept as a baseline), read with asv's API.

    Param names come from ``benchmarks.json`` in ``results_dir`` (or two folders up from the file,
    asv's layout); without it they are named param1, param2...
    """
    from asv import util
    from asv.results import Results

    try:
        result = Results.load(str(path))
    except util.UserError as exc:
        raise ResultsError(f"cannot read {path}: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{path} is corrupt ({type(exc).__name__}: {exc})") from None
    info = {}
    for folder in [d for d in (results_dir, Path(path).resolve().parent.parent) if d]:
        info = load_benchmark_info(Path(folder))
        if info:
            break
    reasons_dir = (Path(results_dir) if results_dir else Path(path).resolve().parent.parent).parent / "reasons"
    return _measurements(result, info, reasons.load(reasons_dir, result.commit_hash, result.env_name))


#: The requirements whose versions name a stack.
STACK_PACKAGES = ("sentence-transformers", "transformers")


def _requirements(result) -> dict[str, str]:
    """The environment's requirements (``matrix.req``) as {distribution: version}, extras dropped."""
    reqs = getattr(result, "_requirements", None) or {}
    return {name.split("[")[0]: version for name, version in reqs.items()}


def _stack(result) -> str:
    reqs = _requirements(result)
    return ", ".join(f"{name} {reqs[name]}" for name in STACK_PACKAGES if reqs.get(name))


def _measurements(result, info: dict, recorded: dict | None = None) -> list[Measurement]:
    recorded = recorded or {}
    stack = _stack(result)
    out = []
    for key in sorted(result.get_all_result_keys()):
        params = result.get_result_params(key)
        bench = info.get(key, {})
        names = bench.get("param_names") or [f"param{i + 1}" for i in range(len(params))]
        values = result.get_result_value(key, params)
        stats = result.get_result_stats(key, params)
        samples = result.get_result_samples(key, params)
        combos = list(itertools.product(*params))  # one empty tuple when unparametrized, as asv does
        from_stderr = _reasons_from_stderr(result.stderr.get(key, ""), names)
        benchmark_class = key.rsplit(".", 1)[0]
        for i, combo in enumerate(combos):
            plain = tuple(_unquote(v) for v in combo)
            value = values[i] if values is not None else None
            if value is None:
                status = "failed"
            elif isinstance(value, float) and math.isnan(value):
                status, value = "skipped", None
            else:
                status = "ok"
            reason = ""
            if status != "ok":
                reason = (
                    recorded.get((benchmark_class, tuple(str(v) for v in plain)))
                    or from_stderr.get(tuple(str(v) for v in plain))
                    or f"{status}; asv keeps no reason: `asv run --show-stderr --bench '{key}' {result.commit_hash[:8]}^!` shows it"
                )
            out.append(
                Measurement(
                    benchmark=key,
                    params=dict(zip(names, plain)),
                    value=value,
                    unit=bench.get("unit"),
                    status=status,
                    reason=reason,
                    stats=(stats[i] if stats else None) if status == "ok" else None,
                    samples=(samples[i] if samples else None) if status == "ok" else None,
                    env_name=result.env_name,
                    env_vars=dict(result.env_vars or {}),
                    version=result.benchmark_version.get(key),
                    stack=stack,
                )
            )
    return out

"""Run the stages of one runtime in a fresh Python process and return per-stage figures.

The child (``_probe_child.py``) is run from its source with ``python -c`` in an empty temporary
folder, so nothing of ours or of the caller's working directory is importable in it. It gets
``HF_HUB_OFFLINE=1``: a measurement never waits on the network. A child that fails or outlives
its timeout raises :class:`ProbeError` with its stderr; it never yields a number.

Result (``schema: embedload.probe/1``), all times in seconds and memory in bytes::

    stages.<import|init|first_encode|total>.{seconds, peak_rss, peak_increase, rss_before, rss_after}
    rss_start, rss_end, rss_growth        RSS before the first import, after first_encode, and growth
    run_peak_rss                          peak RSS over the whole run (steady encodes included)
    steady_encode_seconds, steady_encode_median
    vector                                the first embedding, as floats
    vector_check                          prepared runtimes: {cosine, min_cosine, ok} against st-torch's
    model, model_path, model_source, runtime, cache, device, python, versions, threads, memory_method
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from embedload.base.catalog import PROBE_FIGURES, STAGES
from embedload.base.children import ChildTimeout, child_environ, describe_exit, run_child
from embedload.measure.pagecache import DiscoveryError, helper_source, make_warm, stage_files, write_file_list
from embedload.measure.runtime_folders import CheckFailed, check_vector, model_for
from embedload.measure.runtimes import (
    CACHE_UNAVAILABLE,
    PARTS,
    NotAvailable,
    Runtime,
    bindings,
    check_measurable,
    device_from_env,
)
from embedload.models.registry import ModelError, ResolvedModel, check_weight_files

SCHEMA = "embedload.probe/1"
DEFAULT_TIMEOUT = 300.0
STEADY_RUNS = 5
_CHILD_SOURCE = Path(__file__).with_name("_probe_child.py")


def _failure_headline(runtime: str, model, returncode: int, stderr: str) -> str:
    """One line that says what happened and, where the child said, why."""
    if returncode == 0:
        return (f"probe of {runtime} ended (exit code 0) without writing its result: the measured code exited "
                f"the process (os._exit or sys.exit in the loader?)")
    what = f"probe of {runtime} on {model.name} failed ({describe_exit(returncode)})"
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b", line)]
    cause = errors[-1] if errors else (lines[-1] if lines else "")
    if "weights_only" in stderr or "Weights only load failed" in stderr:
        cause = ("the model's pickled weights were refused by torch.load(weights_only=True): they may run code "
                 "when loaded; convert them to safetensors")
    if returncode < 0 and not errors:
        cause = "the process was killed: a crash in native code (segfault) or the out-of-memory killer"
    return f"{what}: {cause[:300]}" if cause else what


class ProbeError(RuntimeError):
    """The measured child failed or hung. ``stderr`` holds what it printed."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr



def run_probe(
    model: ResolvedModel,
    runtime: str | Runtime = "st-torch",
    cache: str = "warm",
    *,
    device: str | None = None,
    python: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    steady_runs: int = STEADY_RUNS,
    launcher: tuple[str, ...] = (),
    drop_caches: bool = False,
    model_is_prepared: bool = False,
    prelude: str | None = None,
    bare: bool = False,
    already_warm: bool = False,
) -> dict:
    """Measure every stage once, in one fresh process. Raises :class:`ProbeError` on failure.

    ``runtime`` is a name from :data:`~embedload.measure.runtimes.RUNTIMES` or a :class:`Runtime`.
    ``launcher`` is prepended to the child's command line (e.g. ``("/usr/bin/time", "-v")``);
    what it prints on stderr is returned as ``launcher_stderr``. With ``cache="cold"`` every file
    the run reads is evicted just before the first stage, and the residency found is recorded;
    a run that cannot be made cold (> 1% resident) raises :class:`ProbeError`.
    ``model_is_prepared``: ``model`` is already the runtime's prepared folder (``embedload prepare``
    checks what it made), so it is loaded as is and its vector is not checked.
    ``prelude``: source run in the child before the first stage, untimed (a what-if hook: see
    :mod:`embedload.measure.deferral`); what it leaves in ``EMBEDLOAD_REPORT`` is returned as ``prelude_report``.
    ``bare``: the same stages with one clock around all three and no per-stage timer or memory read;
    returns only ``bare_total`` and ``process_seconds`` (what the instrument costs: tools/check_sample.py).
    Every result has ``process_seconds``: the child's whole life (start to exit), timed from outside.
    ``already_warm``: for ``cache="warm"``, the caller has just read every file (a run right before
    this one, nothing evicted since), so they are not read again.
    """
    if isinstance(runtime, Runtime):
        rt = runtime
        if cache in CACHE_UNAVAILABLE:
            raise NotAvailable(CACHE_UNAVAILABLE[cache])
    else:
        rt = check_measurable(runtime, cache, python=python)
    runtime = rt.name
    device = device or device_from_env()
    source_model = model
    if rt.needs_preparing and not model_is_prepared:
        model = model_for(model, rt)
    try:
        check_weight_files(model.path)
    except ModelError as exc:
        raise ProbeError(str(exc)) from None
    model_path = model.path.as_posix()
    cold = None
    # Before the run's folder exists: a discovery child killed with its parent leaves nothing of ours.
    if cache == "warm" and not already_warm:  # whatever a cold run before evicted is read back
        try:
            make_warm(rt, model_path, device, python=python, timeout=timeout)
        except DiscoveryError:
            pass  # the stages fail to run: the run below fails the same way, with the child's own stderr
    if cache == "cold":
        try:
            files = stage_files(rt, model_path, device, python=python, timeout=timeout)
        except DiscoveryError as exc:
            raise ProbeError(f"cold start of {runtime}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="embedload-probe-") as workdir:
        result_path = os.path.join(workdir, "result.json")
        if cache == "cold":
            listing = write_file_list(files["total"])
            residency_path = os.path.join(workdir, "residency.json")
            label = f"probe|{model.name}|{runtime}|total"
            cold = {"source": helper_source(listing, label, drop_caches, residency_path), "result_file": residency_path}
        spec = {
            "bindings": bindings(model_path, device),
            "stages": [{"name": part, "code": rt.code(part)} for part in PARTS],
            "steady_code": rt.code("first_encode"),
            "steady_runs": steady_runs,
            "distributions": list(rt.distributions),
            "result_path": result_path,
            "cold": cold,
            "prelude": prelude,
            "bare": bare,
        }
        cmd = [*launcher, python or sys.executable, "-c", _CHILD_SOURCE.read_text(encoding="utf-8")]
        try:
            started = time.perf_counter()
            proc = run_child(cmd, input=json.dumps(spec), cwd=workdir, env=child_environ(), timeout=timeout,
                             cleanup=[workdir])
            process_seconds = time.perf_counter() - started
        except ChildTimeout as exc:
            raise ProbeError(f"probe of {runtime} timed out after {timeout:g} s (its whole process group was ended)",
                             exc.stderr) from None
        except OSError as exc:
            raise ProbeError(f"cannot start the probe's interpreter {cmd[len(launcher)]}: {exc.strerror}") from None
        if proc.returncode != 0 or not os.path.exists(result_path):
            raise ProbeError(_failure_headline(runtime, model, proc.returncode, proc.stderr), proc.stderr)
        with open(result_path, encoding="utf-8") as f:
            result = json.load(f)
    result["process_seconds"] = process_seconds
    if bare:
        return result

    stages = result["stages"]
    first, last = stages[PARTS[0]], stages[PARTS[-1]]
    total_peak = max(stages[p]["peak_rss"] for p in PARTS)
    stages["total"] = {
        "start": first["start"],
        "end": last["end"],
        "seconds": last["end"] - first["start"],
        "rss_before": result["rss_start"],
        "peak_rss": total_peak,
        "peak_increase": total_peak - result["rss_start"],
        "rss_after": last["rss_after"],
    }
    result.update(
        schema=SCHEMA,
        model=model.name,
        model_path=model_path,
        model_source=model.source,
        runtime=runtime,
        cache=cache,
        device=device,
        launcher_stderr=proc.stderr if launcher else None,
        steady_encode_median=statistics.median(result["steady_encode_seconds"]) if result["steady_encode_seconds"] else None,
    )
    if rt.needs_preparing and not model_is_prepared:
        result["vector_check"] = check = check_vector(source_model, rt, result["vector"])
        if check and not check["ok"]:
            raise CheckFailed.of(rt, model.name, check["cosine"])
    return result


def probe_figure(run: dict, figure: str) -> float | None:
    """One of PROBE_BENCHMARKS' figures from a probe result (None: not measured in this run).

    The one reading of a probe result into figures, shared by the profiler and the asv suite
    (through :mod:`embedload.suite.harness`).
    """
    if figure == "rss_growth":
        return run["rss_growth"]
    if figure == "steady_encode":
        return run.get("steady_encode_median")
    if figure == "vector_cosine":
        return (run.get("vector_check") or {}).get("cosine")
    for prefix, key in (("peak_rss_", "peak_rss"), ("peak_increase_", "peak_increase")):
        if figure.startswith(prefix):
            return run["stages"][figure[len(prefix):]][key]
    raise KeyError(figure)


def run_figures(run: dict) -> dict[str, float | None]:
    """Every figure of one probe run (one fresh interpreter): each stage's seconds, by stage name, and the
    catalog's other figures (:func:`probe_figure`). One sample of each, for the asv suite and the profiler."""
    figures: dict[str, float | None] = {stage: run["stages"][stage]["seconds"] for stage in STAGES}
    figures.update({f.name: probe_figure(run, f.name) for f in PROBE_FIGURES})
    return figures

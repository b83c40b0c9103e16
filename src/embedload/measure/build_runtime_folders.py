"""``embedload prepare``: make, once, what a runtime loads, and check it computes the same vector.

A prepared runtime (``st-onnx``, ``st-onnx-int8``, ``st-openvino``, ``fastembed``) loads a folder
made from the model folder by the runtime's ``prepare_code`` (``embedload.measure.runtimes``): an ONNX
export, its int8 quantization for this CPU, an OpenVINO export, or the layout fastembed reads.
Measuring never converts anything: an unprepared runtime is skipped with the command below.

Layout, outside the repository (``EMBEDLOAD_PREPARED`` or ``~/.cache/embedload/prepared``)::

    <model>-<fingerprint of the model folder's content>/
        reference.json        st-torch's first vector for the fixed sentence (the yardstick)
        <runtime>/            a complete sentence-transformers folder, plus the artifact
            manifest.json     written last: what was made, with which versions, and the check

The check: a probe of the prepared runtime (a fresh process, as measured) must give a first
vector whose cosine with st-torch's is at least ``Runtime.min_cosine`` (0.999, or 0.99 for int8).
A runtime that fails it is never measured: it would load fast and compute something else.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from embedload.base.children import ChildTimeout, child_environ, run_child
from embedload.base.config import UsageError
from embedload.base.files import dump_json, write_new_file
from embedload.measure.probe import run_probe
from embedload.measure.runtime_folders import (
    MANIFEST,
    REFERENCE,
    CheckFailed,
    compare_vectors,
    model_dir,
    read_manifest,
    reference_vector,
)
from embedload.measure.runtimes import (
    REFERENCE_RUNTIME,
    RUNTIME_NAMES,
    NotAvailable,
    Runtime,
    bindings,
    check_measurable,
    get_runtime,
)
from embedload.models.registry import ResolvedModel


def quantization_config() -> str:
    """sentence-transformers' dynamic quantization config that fits this CPU."""
    import platform

    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags and "avx512bw" in flags:
        return "avx512"
    return "avx2"


def _run_prepare_child(runtime: Runtime, model: ResolvedModel, out: Path, python: str, timeout: float) -> None:
    quant = quantization_config()
    source = "\n".join([
        bindings(model.path.as_posix(), "cpu"),
        f"SOURCE_PATH = {model.path.as_posix()!r}\nOUT_PATH = {out.as_posix()!r}\nQUANT = {quant!r}\nMODEL_NAME = {model.name!r}",
        runtime.prepare_code,
    ])
    try:
        proc = run_child([python, "-c", source], env=child_environ(), timeout=timeout, cwd=str(out.parent))
    except ChildTimeout:
        raise RuntimeError(f"preparing {runtime.name} took longer than {timeout:.0f} s") from None
    except OSError as exc:
        raise RuntimeError(f"cannot run {python}: {exc.strerror}") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        tail = "\n".join(lines[-12:])
        raise RuntimeError(f"preparing {runtime.name} for {model.name} failed:\n{tail}")


def _write_json_atomic(path: Path, doc: dict) -> None:
    write_new_file(path, dump_json(doc), force=True)


def ensure_reference(model: ResolvedModel, python: str | None, progress) -> list[float]:
    """st-torch's first vector for this model, measured once by the probe and kept."""
    found = reference_vector(model)
    if found is not None:
        return found
    progress(f"st-torch reference vector for {model.name} ...")
    run = run_probe(model, REFERENCE_RUNTIME, "warm", python=python, steady_runs=0)
    folder = model_dir(model)
    folder.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(folder / REFERENCE, {
        "model": model.name, "model_path": model.path.as_posix(), "runtime": REFERENCE_RUNTIME,
        "versions": run["versions"], "vector": run["vector"],
    })
    return run["vector"]


def prepare(
    model: ResolvedModel,
    runtime: str | Runtime,
    *,
    python: str | None = None,
    force: bool = False,
    timeout: float = 1800,
    progress=lambda message: None,
) -> dict:
    """Make ``runtime``'s folder for ``model`` (unless made already) and check its vector.

    Returns the manifest. Raises :class:`CheckFailed` when the vector does not match.
    The folder is built beside its final place and renamed into it, so a half-made folder is
    never used; ``force`` replaces an existing one.
    """
    rt = get_runtime(runtime) if isinstance(runtime, str) else runtime
    if not rt.needs_preparing:
        return {"runtime": rt.name, "prepared": False, "note": f"{rt.name} loads the model folder itself"}
    check_measurable(rt.name, "warm", python=python)  # when it runs here: installed, else a skip with the pip command
    python = python or sys.executable
    final = model_dir(model) / rt.name
    final.parent.mkdir(parents=True, exist_ok=True)
    # Two prepares of one folder: the second waits, then finds the first one's folder.
    with open(final.parent / f".lock-{rt.name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _prepare_locked(model, rt, final, python, force, timeout, progress)


def _prepare_locked(model, rt, final: Path, python: str, force: bool, timeout: float, progress) -> dict:
    existing = read_manifest(model, rt, final.parent) if final.exists() else None
    if existing is not None and not force:
        progress(f"{rt.name}: already prepared in {final}")
        return existing
    reference = ensure_reference(model, python, progress)

    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{rt.name}.", dir=final.parent))
    try:
        out = work / "folder"
        out.mkdir()
        progress(f"{rt.name}: making {rt.description} from {model.path} ...")
        start = time.perf_counter()
        _run_prepare_child(rt, model, out, python, timeout)
        seconds = time.perf_counter() - start
        progress(f"{rt.name}: made in {seconds:.1f} s; checking its first vector against st-torch ...")
        run = run_probe(ResolvedModel(model.name, out, f"prepared:{rt.name}"), rt, "warm", python=python, steady_runs=0,
                        model_is_prepared=True)
        check = compare_vectors(rt, run["vector"], reference)
        manifest = {
            "runtime": rt.name,
            "model": model.name,
            "source_path": model.path.as_posix(),
            "folder": final.as_posix(),
            "quantization": quantization_config() if "int8" in rt.name else None,
            "made_seconds": seconds,
            "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": run["versions"],
            "python": run["python"],
            "check": check,
        }
        _write_json_atomic(out / MANIFEST, manifest)
        if final.exists():
            shutil.rmtree(final)
        os.replace(out, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not check["ok"]:
        raise CheckFailed.of(rt, model.name, check["cosine"], f"the folder is kept in {final} for inspection and will not be measured")
    progress(f"{rt.name}: ready in {final} (first vector cosine {check['cosine']:.6f} vs {REFERENCE_RUNTIME})")
    return manifest


@dataclass
class Outcome:
    """One model x runtime of :func:`prepare_all`."""

    model: str
    runtime: str
    status: str  # made | nothing-to-prepare | skipped | failed
    message: str = ""
    manifest: dict = field(default_factory=dict)


@dataclass
class Prepared:
    outcomes: list[Outcome]

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def exit_code(self) -> int:
        """1 if a runtime failed or computes something else; else 0."""
        return 1 if self.of("failed") else 0


def prepare_all(
    models: Sequence[ResolvedModel],
    runtimes: Sequence[str] = ("all",),
    *,
    python: str | None = None,
    force: bool = False,
    skip_missing: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> Prepared:
    """``embedload prepare``: every model x runtime; a failure is recorded and the rest go on.

    A runtime whose packages are missing raises :class:`NotAvailable`, or with ``skip_missing`` is
    recorded as skipped; when every one asked for was skipped, :class:`UsageError` (nothing was
    prepared is not a pass).
    """
    names = [n for n in RUNTIME_NAMES if get_runtime(n).needs_preparing] if "all" in runtimes else list(runtimes)
    outcomes = []
    for model in models:
        for name in names:
            rt = get_runtime(name)
            if not rt.needs_preparing:
                outcomes.append(Outcome(model.name, name, "nothing-to-prepare", "it loads the model folder itself"))
                continue
            try:
                manifest = prepare(model, rt, python=python, force=force, progress=progress)
            except NotAvailable as exc:
                if not skip_missing:
                    raise
                outcomes.append(Outcome(model.name, name, "skipped", str(exc)))
                continue
            except (CheckFailed, RuntimeError) as exc:  # ProbeError is a RuntimeError
                outcomes.append(Outcome(model.name, name, "failed", str(exc)))
                continue
            outcomes.append(Outcome(model.name, name, "made", manifest["folder"], manifest))
    result = Prepared(outcomes)
    if outcomes and len(result.of("skipped")) == len(outcomes):
        raise UsageError("nothing was prepared: every runtime asked for was skipped (their packages are not installed)")
    return result


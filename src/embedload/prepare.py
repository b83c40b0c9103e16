"""``embedload prepare``: make, once, what a runtime loads, and check it computes the same vector.

A prepared runtime (``st-onnx``, ``st-onnx-int8``, ``st-openvino``, ``fastembed``) loads a folder
made from the model folder by the runtime's ``prepare_code`` (``embedload.runtimes``): an ONNX
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

import hashlib
import json
import math
import os
import fcntl
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .children import ChildTimeout, child_environ, run_child
from .files import write_new_file
from .models import ResolvedModel
from .runtimes import REFERENCE_RUNTIME, NotAvailable, Runtime, bindings, check_measurable, get_runtime

PREPARED_ENV = "EMBEDLOAD_PREPARED"
MANIFEST = "manifest.json"
REFERENCE = "reference.json"


class NotPrepared(NotAvailable):
    """The runtime's artifacts are missing for this model (asv shows it as skipped)."""


class CheckFailed(RuntimeError):
    """The runtime's first vector does not match st-torch's: it computes something else."""

    @classmethod
    def of(cls, runtime: Runtime, model_name: str, cosine, where: str = "") -> CheckFailed:
        shown = f"{cosine:.6f}" if isinstance(cosine, float) else str(cosine)
        return cls(f"{runtime.name} computes something else for {model_name}: first vector cosine {shown} "
                   f"vs {REFERENCE_RUNTIME}, needs >= {runtime.min_cosine}" + (f"; {where}" if where else ""))


def prepared_root() -> Path:
    base = os.environ.get(PREPARED_ENV)
    if base:
        return Path(base).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "embedload" / "prepared"


def model_fingerprint(path: Path) -> str:
    """A hash of a model folder's content: every file's name and size, and small files' bytes.

    Not its path: the same model installed in two environments (the dev venv, asv's) must find
    the same prepared folders; a changed model must not.
    """
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            size = os.path.getsize(full)
            digest.update(f"{os.path.relpath(full, path)}\0{size}\0".encode())
            if size <= 256 * 1024:
                with open(full, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()[:12]


def model_dir(model: ResolvedModel) -> Path:
    """Per model: its name and a fingerprint of its folder's content."""
    digest = model_fingerprint(model.path)
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in model.name.split("/")[-1])
    return prepared_root() / f"{slug}-{digest}"


def prepare_command(runtime: str, model: str) -> str:
    return f"embedload prepare --runtime {runtime} --model {model}"


def cosine(a, b) -> float:
    if len(a) != len(b):
        raise CheckFailed(f"vectors differ in length: {len(a)} vs {len(b)}")
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def read_manifest(model: ResolvedModel, runtime: Runtime, folder: Path | None = None) -> dict | None:
    """``folder``: ``model_dir(model)`` when the caller has it (it hashes the model folder)."""
    path = (folder or model_dir(model)) / runtime.name / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise NotPrepared(f"{path} is unreadable ({exc}); run `{prepare_command(runtime.name, model.name)} --force`") from None


def model_for(model: ResolvedModel, runtime: Runtime) -> ResolvedModel:
    """The folder ``runtime``'s stages load: the model itself, or its prepared folder.

    Raises :class:`NotPrepared` (a skip, with the command) when it is missing, and
    :class:`CheckFailed` when its vector check failed.
    """
    if not runtime.prepared:
        return model
    folder = model_dir(model)
    manifest = read_manifest(model, runtime, folder)
    if manifest is None:
        raise NotPrepared(f"{runtime.name} is not prepared for {model.name}: run `{prepare_command(runtime.name, model.name)}`")
    check = manifest.get("check") or {}
    if not check.get("ok"):
        raise CheckFailed.of(runtime, model.name, check.get("cosine"), f"see {folder / runtime.name / MANIFEST}")
    return ResolvedModel(model.name, folder / runtime.name, f"prepared:{runtime.name}<-{model.source}")


def reference_vector(model: ResolvedModel) -> list[float] | None:
    try:
        return json.loads((model_dir(model) / REFERENCE).read_text())["vector"]
    except (OSError, json.JSONDecodeError, KeyError):
        return None


def check_vector(model: ResolvedModel, runtime: Runtime, vector) -> dict | None:
    """The vector check of one run against st-torch's reference; None if there is nothing to check."""
    if not runtime.prepared or vector is None:
        return None
    reference = reference_vector(model)
    if reference is None:
        return None
    return _check(runtime, vector, reference)


def _check(runtime: Runtime, vector, reference) -> dict:
    cos = cosine(vector, reference)
    return {"cosine": cos, "min_cosine": runtime.min_cosine, "ok": cos >= runtime.min_cosine, "against": REFERENCE_RUNTIME}


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
    write_new_file(path, json.dumps(doc, indent=1), force=True)


def ensure_reference(model: ResolvedModel, python: str | None, progress) -> list[float]:
    """st-torch's first vector for this model, measured once by the probe and kept."""
    from .probe import run_probe

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
    if not rt.prepared:
        return {"runtime": rt.name, "prepared": False, "note": f"{rt.name} loads the model folder itself"}
    check_measurable(rt.name, "warm", python=python)  # when it runs here: installed, else a skip with the pip command
    python = python or sys.executable
    final = model_dir(model) / rt.name
    final.parent.mkdir(parents=True, exist_ok=True)
    # Two prepares of one folder: the second waits, then finds the first one's folder.
    with open(final.parent / f".{rt.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _prepare_locked(model, rt, final, python, force, timeout, progress)


def _prepare_locked(model, rt, final: Path, python: str, force: bool, timeout: float, progress) -> dict:
    from .probe import run_probe

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
                        prepared=True)
        check = _check(rt, run["vector"], reference)
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

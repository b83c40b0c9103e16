"""Prepared runtimes' folders, as the probe reads them: where they are, and their vector check.

``embedload prepare`` (:mod:`embedload.measure.build_runtime_folders`) builds them; this module only reads them, so
the probe can find a runtime's folder without depending on the code that builds it. The layout
is described in :mod:`embedload.measure.build_runtime_folders`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from embedload.measure.runtimes import REFERENCE_RUNTIME, NotAvailable, Runtime
from embedload.models.registry import ResolvedModel

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
    if not runtime.needs_preparing:
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
    if not runtime.needs_preparing or vector is None:
        return None
    reference = reference_vector(model)
    if reference is None:
        return None
    return compare_vectors(runtime, vector, reference)


def compare_vectors(runtime: Runtime, vector, reference) -> dict:
    cos = cosine(vector, reference)
    return {"cosine": cos, "min_cosine": runtime.min_cosine, "ok": cos >= runtime.min_cosine, "against": REFERENCE_RUNTIME}

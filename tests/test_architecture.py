"""The layers stay one-way: no embedload module imports another inside a function.

An in-function import is how a cycle hides; the layers contract (import-linter, in pyproject.toml
and run by `make test`) only sees module-level imports. docs/architecture.md lists the
deliberate exceptions: none today (the measured child imports nothing of embedload).
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "embedload"
DELIBERATE: set[tuple[str, str]] = set()  # (module file, imported module), documented in docs/architecture.md


def _in_function_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.level > 0 or (sub.module or "").startswith("embedload")):
                    yield sub.lineno, ("." * sub.level) + (sub.module or "")
                elif isinstance(sub, ast.Import):
                    for alias in sub.names:
                        if alias.name.startswith("embedload"):
                            yield sub.lineno, alias.name


def test_no_in_function_import_of_an_embedload_module():
    found = [f"{p.relative_to(SRC)}:{line} imports {mod}" for p in sorted(SRC.rglob("*.py"))
             for line, mod in _in_function_imports(p) if (p.name, mod) not in DELIBERATE]
    assert not found, "in-function imports of embedload modules (a hidden cycle?):\n" + "\n".join(found)


def test_the_check_finds_one(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from .probe import run_probe\n    import embedload.judge.gate\n")
    assert [mod for _line, mod in _in_function_imports(sample)] == [".probe", "embedload.judge.gate"]

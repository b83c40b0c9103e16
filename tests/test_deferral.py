"""``embedload imports --defer``: the three verdicts on a small package tree of our own.

The tree's import burns CPU time in two modules (0.3 s each, ``time.process_time``), so the
planted effects are CPU seconds, not wall-clock limits: a loaded machine slows both arms.
"""

import json
import os
import textwrap
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO

from embedload.commands.cli import main
from embedload.measure import deferral
from embedload.measure.runtimes import loader_runtime
from embedload.models.registry import resolve_model

BURN = "import time as _t\n_until = _t.process_time() + 0.3\nwhile _t.process_time() < _until:\n    pass\n"
TREE = {
    # never used on the way to the first vector: deferring it is a win
    "delapp_win.py": BURN,
    # used by load(): deferring it moves its cost into init
    "delapp_moved.py": BURN + "\n\ndef ready():\n    return True\n",
    # registers an encoder at import (a side effect): deferred, load() finds nothing and raises
    "delapp_registry.py": "REGISTRY = {}\n",
    "delapp_plugin.py": "import delapp_registry\n\ndelapp_registry.REGISTRY['encoder'] = 'fixed'\n",
    "delapp.py": textwrap.dedent("""
        import delapp_moved
        import delapp_plugin  # noqa: F401  (registers the encoder)
        import delapp_win  # noqa: F401  (imported, never used)
        from delapp_win import _until as _win_until  # noqa: F401  (a from-import: bound to a stand-in, never used)


        class _Model:
            def encode(self, sentence):
                return [1.0, 2.0, 3.0]


        def load(model_path, device):
            from delapp_registry import REGISTRY

            assert delapp_moved.ready() and REGISTRY["encoder"] == "fixed"
            return _Model()
        """),
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    for name, source in TREE.items():
        (tmp_path / name).write_text(source)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.syspath_prepend(str(tmp_path))  # the CLI checks here that the loader module imports
    return tmp_path


@pytest.mark.slow
def test_the_three_verdicts_on_a_tree_of_our_own(tree, tiny_model):
    rt = loader_runtime("delapp:load")
    arms = deferral.measure(resolve_model(str(tiny_model)), rt, [("delapp_win",), ("delapp_moved",), ("delapp_plugin",)],
                            runs=5)
    doc = deferral.judge(arms)
    rows = {row["modules"][0]: row for row in doc["deferrals"]}
    # win: 0.3 CPU-s saved in the import and to the first vector; 5 a side, every deferred run sooner
    # than every run as is gives p = 1/252 (up to 4 of the 25 pairs inverted still pass p < 0.05)
    win = rows["delapp_win"]
    assert win["verdict"] == "win", win["why"]
    assert win["saved"]["import"] > 0.2 and win["saved"]["total"] > 0.2 and win["vector_min_cosine"] == pytest.approx(1.0)
    assert win["first_use"] == [{"module": "delapp_win", "stage": None, "runs_used": 0, "runs": 5, "attribute": None, "by": None}]
    assert win["lazy_names"] == [["delapp_win", "_until", "delapp"]]  # PEP 810's `lazy from`, as the hook binds it
    # moved: the import saves 0.3 CPU-s and init pays them; a win would need 0.15 s kept to the first vector
    moved = rows["delapp_moved"]
    assert moved["verdict"] == "moved", moved["why"]
    assert moved["first_use"][0]["stage"] == "init" and moved["first_use"][0]["attribute"] == "ready"
    assert moved["saved"]["import"] > 0.2 and moved["saved"]["init"] < -0.2
    assert "delapp_moved is first used in init (delapp reads delapp_moved.ready)" in moved["why"]
    # breaks: the registration never ran; init raised, and the arm stopped at its first failure
    broken = rows["delapp_plugin"]
    assert broken["verdict"] == "breaks" and broken["runs"] == 0
    assert broken["failure"]["stage"] == "init" and "KeyError" in broken["failure"]["error"]
    assert broken["why"].startswith("the init stage raised in run 1: KeyError")
    assert doc["as_is"]["runs"] == 5

    jsonschema.validate(doc, json.loads((REPO / "docs" / "deferral.schema.json").read_text()))
    text = deferral.format_text(doc)
    assert "win      delapp_win: the first vector came" in text and "to get it without a hook:" in text
    assert "(delapp: from delapp_win import _until)" in text


@pytest.mark.slow
def test_the_hook_leaves_a_module_that_the_import_reads_loaded(tree, tiny_model):
    """A module-level read of M's attribute runs M during the import: needed, with who read what."""
    (tree / "delapp_reader.py").write_text("import delapp_win\n\nLIMIT = delapp_win._until + 1\n")
    (tree / "delapp2.py").write_text("import delapp_reader  # noqa: F401\n\n\ndef load(model_path, device):\n"
                                     "    class M:\n        def encode(self, s):\n            return [1.0]\n    return M()\n")
    arms = deferral.measure(resolve_model(str(tiny_model)), loader_runtime("delapp2:load"), [("delapp_win",)], runs=1)
    (row,) = deferral.judge(arms)["deferrals"]
    assert row["verdict"] == "needed" and "delapp_reader reads delapp_win._until" in row["why"]


def test_a_win_needs_four_runs_a_side():
    """At 3 a side the one-sided U test's smallest p is 1/C(6,3) = 0.05 exactly: never below 0.05."""
    assert deferral.min_runs() == 4


def test_bad_defer_arguments_are_one_line(capsys):
    assert main(["imports", "--defer", "not a module"]) == 2
    err = capsys.readouterr().err
    assert "--defer takes module names separated by commas" in err and err.count("\n") == 1
    assert main(["imports", "--loader", "x:y"]) == 2
    assert "--loader goes with --defer" in capsys.readouterr().err


@pytest.mark.slow
def test_the_cli_reports_json_with_its_schema(tree, tiny_model, capsys, empty_config):
    code = main(["imports", "--defer", "delapp_win", "--loader", "delapp:load", "--model", str(tiny_model),
                 "--runs", "1", "--format", "json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, json.loads((Path(REPO) / "docs" / "deferral.schema.json").read_text()))
    assert doc["runtime"] == "loader:delapp:load" and doc["deferrals"][0]["modules"] == ["delapp_win"]


def test_auto_candidates_leave_out_the_stdlib_and_the_runtimes_own_distributions():
    ranked = {"distributions": [
        {"distribution": "torch", "chain": "torch ← transformers.x ← sentence_transformers.y"},
        {"distribution": "scipy", "chain": "scipy.stats ← sklearn.utils.fixes ← sentence_transformers.util.similarity"},
        {"distribution": "python (stdlib)", "chain": "importlib.metadata ← tqdm.version"},
        {"distribution": "(unattributed: zz)", "chain": "zz ← sentence_transformers"},
        {"distribution": "sympy", "chain": "sympy ← torch.fx.experimental.symbolic_shapes"},
        {"distribution": "rich", "chain": "rich.progress ← sklearn.callback"},
    ]}
    found = deferral.auto_candidates(ranked, loader_runtime("delapp:load"), top=2)
    assert found == [("scipy.stats", ranked["distributions"][1]["chain"]), ("sympy", ranked["distributions"][4]["chain"])]


@pytest.mark.slow
def test_the_scout_climbs_from_a_module_the_import_reads_to_its_reader(tree, tiny_model):
    """delapp_win is read at import by delapp_reader, which nothing uses: the scout climbs to it, and
    stops where the reader is the runtime's own package."""
    (tree / "delapp_reader.py").write_text("import delapp_win\n\nLIMIT = delapp_win._until + 1\n")
    (tree / "delapp3.py").write_text("import delapp_reader  # noqa: F401\n\n\ndef load(model_path, device):\n"
                                     "    class M:\n        def encode(self, s):\n            return [1.0]\n    return M()\n")
    model, rt = resolve_model(str(tiny_model)), loader_runtime("delapp3:load")
    found, steps = deferral.scout(model, rt, "delapp_win", set())
    assert found == "delapp_reader"
    assert [(s["module"], s["stage"], s["by"]) for s in steps] == [("delapp_win", "import", "delapp_reader"),
                                                                  ("delapp_reader", None, None)]
    found, steps = deferral.scout(model, rt, "delapp_win", {"delapp_reader"})  # as if it were the runtime's own
    assert found is None and len(steps) == 1

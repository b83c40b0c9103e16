"""The -X importtime parser and attribution, on a tiny fixture, then once for real."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embedload.measure.importtime import STDLIB, attribute, between_markers, entries, parse_importtime, walk

FIXTURE = (Path(__file__).parent / "fixtures" / "importtime_small.txt").read_text()
DISTS = {"app": ["my-app"], "sklearn": ["scikit-learn"], "scipy": ["scipy"], "torch": ["torch"]}
STDLIB_NAMES = {"json", "io"}


def test_parses_the_tree_between_the_markers():
    roots = parse_importtime(between_markers(FIXTURE))
    assert [r.name for r in roots] == ["app"]  # start-up (_io) and later imports are outside the markers
    app = roots[0]
    assert [c.name for c in app.children] == ["app.util.similarity", "json", "torch", "mystery_mod"]
    scipy = next(n for n in walk(roots) if n.name == "scipy")
    assert scipy.parent.name == "sklearn.metrics" and [c.name for c in scipy.children] == ["scipy.linalg"]
    assert sum(n.self_us for n in walk(roots)) == app.cumulative_us


def test_self_time_goes_to_distributions():
    roots = parse_importtime(between_markers(FIXTURE))
    totals = attribute(roots, DISTS, STDLIB_NAMES)
    assert totals == {"my-app": 140, "scikit-learn": 100, "scipy": 500, STDLIB: 100, "torch": 1400,
                      "(unattributed: mystery_mod)": 10}


def test_chains_stop_at_the_importing_package():
    roots = parse_importtime(between_markers(FIXTURE))
    found = entries(roots, DISTS, STDLIB_NAMES)
    assert found["scikit-learn"] == ("sklearn.metrics ← app.util.similarity", 600)
    assert found["scipy"] == ("scipy ← sklearn.metrics ← app.util.similarity", 500)
    assert found["torch"] == ("torch ← app", 1400)


def test_garbage_lines_are_ignored_and_missing_markers_are_an_error():
    assert parse_importtime("hello\nimport time: x | y | z\n") == []
    with pytest.raises(ValueError, match="markers"):
        between_markers("import time:       1 |       1 | a\n")


@pytest.mark.slow
def test_imports_command_attributes_most_of_the_real_import():
    out = subprocess.run([sys.executable, "-m", "embedload", "imports", "--runs", "1", "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["attributed_fraction"] >= 0.8
    names = {row["distribution"] for row in result["distributions"]}
    assert {"torch", "transformers", "sentence-transformers"} <= names
    sklearn = next(r for r in result["distributions"] if r["distribution"] == "scikit-learn")
    assert "sentence_transformers" in sklearn["chain"]

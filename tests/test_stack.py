"""One pinned stack per environment: each constraints file and its asv config say the same versions."""

import re

import pytest
from asv.util import load_json
from conftest import REPO


def _pins(path):
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
            pins[name.lower().replace("_", "-")] = version
    return pins


def _matrix(path):
    req = load_json(str(path), js_comments=True)["matrix"]["req"]
    return {re.sub(r"\[.*\]", "", name).lower().replace("_", "-"): versions for name, versions in req.items()}


@pytest.mark.parametrize("constraints, conf", [("constraints.txt", "asv.conf.json"),
                                               ("constraints-runtimes.txt", "asv.runtimes.conf.json")])
def test_the_constraints_and_the_asv_matrix_pin_the_same_stack(constraints, conf):
    pins, matrix = _pins(REPO / constraints), _matrix(REPO / conf)
    assert pins, constraints
    for name, version in pins.items():
        assert matrix.get(name) == [version], f"{conf} pins {name} to {matrix.get(name)}, {constraints} to {version}"
    pinned_there = {name: v for name, v in matrix.items() if v != [""]}
    assert set(pinned_there) <= set(pins), f"{conf} pins {sorted(set(pinned_there) - set(pins))}, {constraints} does not"


def test_this_environment_is_the_pinned_stack():
    """.venv (make setup) holds constraints.txt's versions: profile and the tests measure what asv does."""
    from importlib import metadata

    for name, version in _pins(REPO / "constraints.txt").items():
        installed = metadata.version(name)
        assert installed.split("+")[0] == version, f"{name} {installed} installed, constraints.txt pins {version}"

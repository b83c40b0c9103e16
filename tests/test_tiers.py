"""The tiers: `make check` runs what is not marked slow, and an unmarked slow test fails."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

CASES = '''
import time
import pytest

def test_quick():
    pass

def test_unmarked_and_slow():
    time.sleep(1.0)

@pytest.mark.slow
def test_marked_and_slow():
    time.sleep(1.0)
'''


@pytest.mark.slow  # starts a pytest of its own
def test_an_unmarked_test_over_the_limit_fails(tmp_path):
    for name in ("conftest.py", "tinymodel.py"):
        shutil.copy(HERE / name, tmp_path / name)
    (tmp_path / "test_cases.py").write_text(CASES)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    # the limit lowered to 0.25 s: 4x under the planted 1-s sleep (a sleep never ends early), and far
    # above an empty test
    env = dict(os.environ, EMBEDLOAD_UNMARKED_LIMIT="0.25")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 failed, 2 passed" in out.stdout
    assert "test_unmarked_and_slow took " in out.stdout and "without @pytest.mark.slow" in out.stdout

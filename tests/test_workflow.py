"""examples/workflow.sh, the seed's tutorial: run as CI runs it (--yes), on the tiny model."""

import re
import subprocess
import sys
import time

import psutil
import pytest
from conftest import REPO

SCRIPT = REPO / "examples" / "workflow.sh"


def _run(*args, timeout=600):
    return subprocess.run(["bash", str(SCRIPT), "--python", sys.executable, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    cases = {
        ("--runs", "3", "--yes"): "--runs is a whole number of at least 5",
        ("--slowdown", "lots", "--yes"): "--slowdown is a number of seconds",
        ("--frobnicate",): "unknown option --frobnicate",
        ("--workdir", str(tmp_path), "--yes"): "exists; name a new folder",
        (): "standard input is not a terminal: pass --yes",  # interactive needs a terminal
    }
    for args, message in cases.items():
        out = _run(*args, timeout=30)
        assert out.returncode == 2 and message in out.stderr and out.stderr.count("\n") == 1, (args, out.stderr)
        assert out.stdout == ""
    assert list(tmp_path.iterdir()) == []  # an existing --workdir is left untouched
    assert "--workdir DIR" in _run("--help").stdout


@pytest.mark.slow
def test_the_tutorial_fails_the_gate_where_the_slowdown_is_planted(tiny_model, tmp_path):
    work = tmp_path / "tutorial"
    start = time.monotonic()
    out = _run("--yes", "--model", str(tiny_model), "--workdir", str(work))
    elapsed = time.monotonic() - start
    print(f"examples/workflow.sh --yes on the tiny model: {elapsed:.0f} s")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "tutorial: every step as expected" in out.stdout
    steps = [line for line in out.stdout.splitlines() if line.startswith("== ")]
    assert len(steps) == 7 and "A change that slows the import" in steps[2]

    # The reports the script kept: the gate's own verdicts, as CI would read them.
    planted = (work / "gate-planted.txt").read_text()
    assert planted.splitlines()[-1].startswith("FAIL: ") and "1 regression(s)" in planted.splitlines()[-1]
    [regressed] = [line for line in planted.splitlines() if " regressed " in line]
    assert "track_import(" in regressed and "tutorial_app:load, warm)" in regressed
    fixed = (work / "gate-fixed.txt").read_text()
    assert fixed.splitlines()[-1].startswith("PASS: ") and "1 improvement(s)" in fixed.splitlines()[-1]
    # The fix beside the baseline is read, never gated: same code, separate runs, an A/A that could flip.
    compared = (work / "compare-base.txt").read_text()
    assert compared.startswith("$ asv compare --machine tutorial ") and "track_import" in compared
    assert not (work / "gate-base.txt").exists()
    assert re.search(r"^-> as expected: the gate at the planted commit [0-9a-f]{8} \(exit 1\)$", out.stdout, re.M)
    assert re.search(r"^-> as expected: the gate at the fix [0-9a-f]{8} against the planted commit \(exit 0\)$", out.stdout, re.M)

    # The profile compared with its baseline named the import, and the planted lines are gone again.
    assert (work / "before.txt").read_text().splitlines()[-1].startswith("REPORT: 1 load row(s) measured, nothing gated")  # no baseline
    after = (work / "after.txt").read_text()
    assert after.splitlines()[-1].startswith("FAIL: ")
    assert any(" regressed " in line and "import" in line for line in after.splitlines())
    assert "PLANTED" not in (work / "app" / "tutorial_app.py").read_text()
    assert (work / "app" / ".asv" / "html" / "embedload" / "index.html").is_file()
    log = subprocess.run(["git", "log", "--format=%s"], cwd=work / "app", capture_output=True, text=True, check=True)
    assert log.stdout.splitlines() == ["drop the new dependency", "use a new dependency (planted slowdown)",
                                       "the application, tracked by embedload"]


@pytest.mark.slow
def test_the_tutorial_leaves_no_temporary_folder(tiny_model, tmp_path, monkeypatch):
    """Without --workdir everything goes to a temporary folder, removed at the end (even when stopped)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    proc = subprocess.Popen(["bash", str(SCRIPT), "--python", sys.executable, "--yes", "--model", str(tiny_model)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # stop it in the middle of its first profile
        if "embedload profile" in line:
            break
    # ... once a measured child has imported sentence_transformers, which creates torch's cache
    # folder under $TMPDIR (left in our folder once, when a stop came that late).
    deadline = time.monotonic() + 300
    while not any(tmp_path.rglob("torchinductor_*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert any(tmp_path.rglob("torchinductor_*")), "no child imported sentence_transformers in 300 s"
    proc.terminate()
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert list(tmp_path.iterdir()) == []
    left = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert left == []  # the profile it was running, and that profile's children, were stopped with it

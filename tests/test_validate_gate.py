"""tools/validate_gate.py: the planted slowdown lands where it should, and the report counts right."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import validate_gate  # noqa: E402

FAKE_ST = '''
class SentenceTransformer:
    def __init__(self, path):
        self.path = path
'''

TIMED = '''
import time
t = time.process_time()
from sentence_transformers import SentenceTransformer
imported = time.process_time() - t
t = time.process_time()
SentenceTransformer("m")
print(imported, time.process_time() - t)
'''


def _run_planted(tmp_path, commit):
    (tmp_path / "sentence_transformers").mkdir(exist_ok=True)
    (tmp_path / "sentence_transformers" / "__init__.py").write_text(FAKE_ST)
    plan = tmp_path / "plant.json"
    plan.write_text(json.dumps({"c" * 40: {"import": 0.3, "init": 0.2}}))
    (tmp_path / validate_gate.PLANT_MODULE).write_text(validate_gate.PLANT_SOURCE.format(plan=str(plan)))
    # what the .pth line does at start-up, here explicitly
    code = "import zz_embedload_planted_slowdown\n" + TIMED
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ASV_COMMIT": commit}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.split()]


@pytest.mark.slow
def test_the_plant_burns_cpu_in_the_import_and_the_init_of_its_commit_only(tmp_path):
    start = time.monotonic()
    imported, init = _run_planted(tmp_path, "c" * 40)
    assert 0.3 <= imported < 1.0 and 0.2 <= init < 1.0, (imported, init)
    imported, init = _run_planted(tmp_path, "d" * 40)
    assert imported < 0.1 and init < 0.1, (imported, init)
    assert time.monotonic() - start < 30


def _trial(size, set_no, imp, total, flagged):
    def bench(ratio):
        return {"ratio": ratio, "status": "regressed" if ratio > 1.2 else "unchanged", "detectable": 0.12, "noise": 0.1}
    return {"set": set_no, "size": size, "flagged": flagged, "exit_code": int(flagged), "problems": [],
            "benchmarks": {validate_gate.IMPORT: bench(imp), validate_gate.TOTAL: bench(total)},
            "disturbed": False, "threshold": 1.2, "set_seconds": 600.0 + set_no, "commits": ["a", "b"]}


def test_report_counts_detections_and_false_alarms(tmp_path, capsys):
    trials = [_trial(0, 1, 1.01, 0.99, False), _trial(0.2, 1, 1.25, 1.1, True),
              _trial(0, 2, 1.21, 1.0, True), _trial(0.2, 2, 1.3, 1.22, True)]
    (tmp_path / "trials.jsonl").write_text("\n".join(json.dumps(t) for t in trials) + "\n")
    assert validate_gate.main(["--workdir", str(tmp_path), "report"]) == 0
    out = capsys.readouterr().out
    [aa] = [line for line in out.splitlines() if line.startswith("A/A")]
    [p20] = [line for line in out.splitlines() if line.startswith("+20%")]
    assert aa.split()[1:5] == ["2", "1", "1", "0"]  # trials, gate flagged, import flagged, total flagged
    assert p20.split()[1:5] == ["2", "2", "2", "1"]
    assert "2 set(s) of 3 commits; a set took 10.0 min (median)" in out
    # --workdir after the command, as the docstring and docs/gate.md write it, names the same folder
    assert validate_gate.main(["report", "--workdir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == out
    assert validate_gate.main(["--workdir", str(tmp_path / "elsewhere"), "report", "--workdir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == out
    assert validate_gate.main(["report", "--workdir", str(tmp_path / "elsewhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no trials in" in err and "elsewhere" in err


def test_a_sigterm_ends_it_with_one_line_and_143(monkeypatch, capsys):
    from embedload.base.children import Terminated

    def stopped(args):
        raise Terminated()

    monkeypatch.setattr(validate_gate, "cmd_report", stopped)
    assert validate_gate.main(["--workdir", "/nonexistent", "report"]) == 143
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped by SIGTERM" in err and "Traceback" not in err

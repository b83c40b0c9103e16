"""What else the machine did while a benchmark ran: recorded per round, read back, flagged."""

import dataclasses
import json
import subprocess
import sys
import time
from xml.etree import ElementTree as ET

import psutil
import pytest
from test_gate import _evaluate, _suite_measurements

from embedload.measure import conditions
from embedload.measure.conditions import Conditions, Window, read_conditions
from embedload.render.gate_report import render_json, render_junit, render_markdown, render_text
from embedload.render.lines import conditions_lines

BUSY = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


def _cpu_of(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


@pytest.mark.slow
def test_a_window_sees_another_process_using_a_core():
    """Against the competitor's own CPU time, not the wall clock: a loaded machine gives it less of a
    core, and the window must still count all of it (and none of ours)."""
    competitor = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        watched = psutil.Process(competitor.pid)
        time.sleep(0.3)
        before, stat_before = _cpu_of(watched), conditions._proc_stat()
        window = Window.open()
        end = time.process_time() + 0.5  # our own CPU does not count as other work
        while time.process_time() < end:
            pass
        time.sleep(1.0)
        found = window.close()
        used, stat_after = _cpu_of(watched) - before, conditions._proc_stat()
    finally:
        competitor.kill()
        competitor.wait()
    busy = stat_after[0] - stat_before[0]
    assert used >= 0.2, used  # it ran (a loaded 2-core machine gives it about 0.5 CPU-s of these 1.5 s at least)
    # /proc/stat counts 10-ms ticks per CPU: 0.1 s is ten ticks of slack, far above its rounding
    assert found["other_cpu"] >= used - 0.1, (found, used)
    assert found["other_cpu"] <= busy - 0.4, (found, busy)  # our 0.5 s of CPU was taken out
    assert 0 <= found["steal_cpu"] <= found["machine_cpu"] and found["cpus"] >= 1 and found["end"] > found["start"]


def test_rounds_are_recorded_beside_the_results_and_the_latest_run_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ASV_COMMIT", "ab" * 20)
    monkeypatch.setenv("ASV_CONF_DIR", str(tmp_path))
    monkeypatch.setenv("ASV_ENV_NAME", "env-1")
    conditions.record_found("bench_load.Stages", ("st-torch", "warm"), Window.open().close())
    path = conditions.conditions_file(tmp_path, "ab" * 20, "env-1")
    assert path.parent == tmp_path / ".asv" / "conditions"
    [entry] = [json.loads(line) for line in path.read_text().splitlines()]
    assert entry["class"] == "bench_load.Stages" and entry["params"] == ["st-torch", "warm"]

    def line(run, end, other, steal=0.0, wall=10.0):
        return json.dumps({"class": "bench_load.Stages", "params": ["st-torch", "warm"], "run": run, "start": end - wall,
                           "end": end, "wall": wall, "other_cpu": other * wall, "steal_cpu": steal * 2 * wall,
                           "machine_cpu": 2 * wall, "load": 1.0, "cpus": 2})

    path.write_text("\n".join([line("1:100", 1000, 1.4), line("1:100", 1010, 0.9), line("2:200", 2000, 0.02),
                               line("2:200", 2010, 0.1, steal=0.01), '{"class": "torn']) + "\n")
    found = read_conditions(path.parent, "ab" * 20, "env-1")
    latest = found[("bench_load.Stages", ("st-torch", "warm"))]
    assert (latest.rounds, latest.wall) == (2, 20.0)  # the busy first run is not this one
    assert latest.other_cores == pytest.approx(0.06) and latest.steal == pytest.approx(0.005)
    assert not latest.disturbed
    path.write_text(path.read_text() + line("3:300", 3000, 0.8) + "\n" + line("3:300", 3010, 0.0) + "\n")
    busy = read_conditions(path.parent, "ab" * 20, "env-1")[("bench_load.Stages", ("st-torch", "warm"))]
    assert busy.disturbed and busy.describe().startswith("disturbed: other processes used 0.40 cores (over 2 round(s), 20 s")
    # a few ticks over a short round are not a disturbance: 0.03 s of other CPU over 0.05 s
    path.write_text(line("4:400", 4000, 0.6, wall=0.05) + "\n")
    short = read_conditions(path.parent, "ab" * 20, "env-1")[("bench_load.Stages", ("st-torch", "warm"))]
    assert short.other_cores == pytest.approx(0.6) and not short.disturbed
    assert Conditions(1, 10.0, 0.0, 0.2, 0.5).describe().startswith("disturbed: the hypervisor stole 20% of the CPU")
    assert read_conditions(tmp_path / "nowhere", "ab" * 20, "env-1") == {}


def _with_conditions(measurements, other_cores):
    found = Conditions(rounds=4, wall=20.0, other_cpu=other_cores * 20.0, steal=0.0, load=0.5)
    return [dataclasses.replace(m, conditions=found) if m.status == "ok" and m.samples else m for m in measurements]


def test_a_pass_from_a_disturbed_run_says_so_in_every_format():
    base = _with_conditions(_suite_measurements(imp=0.51), 0.03)
    report = _evaluate(_with_conditions(_suite_measurements(), 0.9), baseline=base, baseline_name="b",
                       fail_on=("regressions",))
    assert report.exit_code == 0
    assert report.verdict.startswith("PASS: ") and "measured on a disturbed machine (4 benchmark(s), current" in report.verdict
    text = render_text(report)
    # the 4 figures of the same runs share their conditions: one line, not one per figure
    assert ("⚠ bench_load.Stages.track_import(m, st-torch, warm) and 3 more figure(s) of the same runs [current]: "
            "disturbed: other processes used 0.90 cores") in text
    assert text.count("⚠ ") == 1
    assert "measured on a disturbed machine" in render_markdown(report)
    document = json.loads(render_json(report))
    assert document["conditions"]["disturbed"] is True
    assert {(b["side"], b["disturbed"]) for b in document["conditions"]["benchmarks"]} == {("current", True), ("baseline", False)}
    skipped = ET.fromstring(render_junit(report)).findall(".//testsuite[@name='embedload.conditions']/testcase/skipped")
    assert len(skipped) == 4

    quiet = _evaluate(_with_conditions(_suite_measurements(), 0.02), baseline=base, baseline_name="b")
    assert "disturbed" not in quiet.verdict and "quiet: 8 timing(s) recorded" in render_text(quiet)
    assert "conditions" in json.loads(render_json(quiet)) and not json.loads(render_json(quiet))["conditions"]["disturbed"]
    assert "not recorded" in render_text(_evaluate(_suite_measurements()))


@pytest.mark.slow
def test_a_process_that_is_part_of_the_measurement_is_not_a_disturbance():
    """A model server the samples talk to (strategy ``service``) burns CPU for them: not "other" work."""
    import subprocess
    import sys
    import time

    from embedload.measure.conditions import Window

    busy = subprocess.Popen([sys.executable, "-c", BUSY])  # alive until killed: its CPU stays readable
    try:
        watched = psutil.Process(busy.pid)
        time.sleep(0.2)
        before = _cpu_of(watched)
        plain, server = Window.open(), Window.open(also=(busy.pid,))
        time.sleep(1.0)
        everything_else, without_server = plain.close(), server.close()
        used = _cpu_of(watched) - before
    finally:
        busy.kill()
        busy.wait()
    # Against the server's own CPU time (a loaded machine gives it less than a core); 0.1 s of tick slack.
    assert used >= 0.2, used
    assert everything_else["other_cpu"] >= used - 0.1
    assert without_server["other_cpu"] <= everything_else["other_cpu"] - used + 0.1


def test_a_disturbed_profile_says_so_once():
    """A profile's runs give every figure: one conditions line, named as the runs, not one per figure."""
    report = _evaluate(_with_conditions(_suite_measurements(), 0.9), source="profile", fail_on=())
    lines = conditions_lines(report.conditions)
    assert len(lines) == 1 and lines[0].startswith("⚠ the profile's runs [current]: disturbed: other processes used")

"""embedload profile: fresh-process runs, the gate's report, safe output, baselines."""

import json
import subprocess
import sys

import pytest


def profile(*args, cwd):
    return subprocess.run([sys.executable, "-m", "embedload", "profile", *args], cwd=cwd, capture_output=True, text=True)


# Targets no run can miss: a comparison's verdict then depends on the regressions alone.
GENEROUS = ("[project]\nname = 'x'\n\n[tool.embedload.targets]\n"
            "total = 1000\nimport = 1000\ninit = 1000\nfirst_encode = 1000\nmemory_mb = 1000000\n")


@pytest.fixture(scope="module")
def saved(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("profile")
    (folder / "pyproject.toml").write_text(GENEROUS)
    out = profile("--model", str(tiny_model), "--runs", "2", "--save-runs", "base.json", cwd=folder)
    assert out.returncode == 0, out.stderr
    return folder, out


@pytest.mark.slow
def test_report_has_the_seed_layout_and_progress(saved):
    _folder, out = saved
    for heading in ("PROFILING RESULTS", "Timing Breakdown", "Total Load Time:", "├─ Import Time:",
                    "└─ First Encode Time:", "Memory Usage", "Performance vs Targets", "Recommendations"):
        assert heading in out.stdout
    assert "n=2" in out.stdout
    assert "commit (working tree) on " in out.stdout
    assert "[1/2]" in out.stderr and "[2/2]" in out.stderr  # progress while it runs
    assert "runs saved to base.json" in out.stderr


@pytest.mark.slow
def test_output_is_a_profile_document(saved):
    folder, _out = saved
    doc = json.loads((folder / "base.json").read_text())
    assert doc["schema"] == "embedload.profile/1"
    assert len(doc["runs"]) == 2 and all(r["cache"] == "warm" for r in doc["runs"])
    assert doc["versions"]["torch"]


@pytest.mark.slow
def test_never_overwrites_without_force(saved, tiny_model):
    folder, _out = saved
    before = (folder / "base.json").read_bytes()
    out = profile("--model", str(tiny_model), "--runs", "1", "--save-runs", "base.json", cwd=folder)
    assert out.returncode == 2 and "already exists; pass --force" in out.stderr
    assert (folder / "base.json").read_bytes() == before
    assert not list(folder.glob(".base.json.*"))  # no temp file left behind


@pytest.mark.slow
def test_baseline_comparison_uses_the_gate_rule(saved, tiny_model):
    folder, _out = saved
    out = profile("--model", str(tiny_model), "--runs", "2", "--baseline", "base.json", "--format", "json", cwd=folder)
    # 2 runs a side: the one-sided U test's smallest p is 1/C(4,2) = 1/6, so no sampled comparison can
    # reject whatever the slowdown: the gate cannot judge, and says how many runs it needs.
    report = json.loads(out.stdout)
    assert out.returncode == 2 and report["exit_code"] == 2, report["verdict"]
    assert report["verdict"].startswith("CANNOT JUDGE: ") and "profile both sides with --runs 5 or more" in report["verdict"]
    assert report["baseline"] == "base.json (profile)"
    names = {c["benchmark"].split("(")[0] for c in report["comparisons"]}
    assert "bench_load.Stages.track_total" in names and "bench_load.Stages.track_import" in names
    assert report["exit_code"] == out.returncode


@pytest.mark.slow
def test_profile_json_is_a_gate_baseline(saved):
    from embedload.judge.gate import load_baseline_file

    folder, _out = saved
    measurements, name = load_baseline_file(folder / "base.json", None)
    total = [m for m in measurements if m.benchmark == "bench_load.Stages.track_total"]
    assert len(total) == 1 and len(total[0].samples) == 2 and total[0].stats["repeat"] == 2


@pytest.mark.slow
def test_cold_start_profile(tiny_model, tmp_path):
    out = profile("--model", str(tiny_model), "--runs", "1", "--cold-start", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "COLD START" in out.stdout
    assert "resident at start" in out.stderr


@pytest.mark.slow
def test_bad_arguments(tmp_path):
    out = profile("--runs", "0", cwd=tmp_path)
    assert out.returncode == 2 and "--runs must be at least 1" in out.stderr
    out = profile("--drop-caches", cwd=tmp_path)
    assert out.returncode == 2 and "only applies with --cold-start" in out.stderr
    out = profile("--output", str(tmp_path / "no" / "dir.json"), "--model", "nope", cwd=tmp_path)
    assert out.returncode == 2 and "folder" in out.stderr and "does not exist" in out.stderr  # checked first
    out = profile("--model", "nope", cwd=tmp_path)
    assert out.returncode == 2 and "not found" in out.stderr


@pytest.mark.slow
def test_output_is_the_report_as_for_the_gate(tiny_model, tmp_path):
    report = tmp_path / "report.md"
    out = profile("--model", str(tiny_model), "--runs", "1", "--output", str(report), "--format", "markdown", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and report.read_text().startswith("## ") and "| model | runtime |" in report.read_text()
    assert f"report written to {report} (markdown)" in out.stderr


@pytest.mark.slow
def test_profile_is_a_library_call(tiny_model, empty_config, tmp_path):
    """The command without its CLI: keyword arguments in, a judged report and the runs out."""
    from embedload.base.config import load_config
    from embedload.commands.profile import profile as run_profile

    lines = []
    result = run_profile([str(tiny_model)], config=load_config(), runs=1, save_runs=tmp_path / "runs.json",
                         progress=lines.append)
    assert result.exit_code == 0 and not result.gated
    assert len(result.document["runs"]) == 1 and (tmp_path / "runs.json").is_file()
    assert [r.runtime for r in result.report.rows] == ["st-torch"]
    assert any(line.startswith("[1/1]") for line in lines)
    # what else the machine did while the runs ran, one figure for the whole profile
    assert {side for side, _, _ in result.report.conditions} == {"current"}
    assert {c.rounds for _, _, c in result.report.conditions} == {1} and result.report.conditions[0][2].wall > 0

    empty_config.write_text(GENEROUS)  # no target can be missed, and 1 run a side cannot reject a sampled figure
    against = run_profile([str(tiny_model)], config=load_config(), runs=1, baseline=tmp_path / "runs.json")
    regressed = [c for c in against.report.comparisons if c.status == "regressed"]
    assert all(c.test == "factor-only" for c in regressed), regressed  # what a loaded machine can move
    assert against.gated and against.report.comparisons and against.exit_code == (1 if regressed else 0)


def test_profile_refuses_bad_options_before_measuring(tiny_model, empty_config, tmp_path):
    from embedload.base.config import UsageError, load_config
    from embedload.commands.profile import profile as run_profile

    lines = []
    for kwargs, expected in (({"drop_caches": True}, "--drop-caches only applies with --cold-start"),
                             ({"runs": 0}, "--runs must be at least 1"),
                             ({"runtime": "st-onnx", "loader": "m:f"}, "cannot be combined with --runtime st-onnx")):
        with pytest.raises(UsageError, match=expected):
            run_profile([str(tiny_model)], config=load_config(), progress=lines.append, **kwargs)
    assert lines == []  # nothing was measured

"""The gate: exit codes, bad inputs, any asv suite, formats."""

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from conftest import REPO
from foreign_suite import ForeignSuite

from embedload.base.config import Config, ConfigError, load_config
from embedload.commands.cli import main
from embedload.judge.gate import evaluate
from embedload.judge.targets import DEFAULT_TARGETS, load_targets
from embedload.render.gate_report import render_json, render_junit, render_markdown, render_text
from embedload.results.asv_results import Measurement


def gate(*args, cwd):
    """``embedload gate`` in this process (the command as a library call); see gate_script for the script."""
    stdout, stderr = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["gate", *args])
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(["embedload", "gate", *args], code, stdout.getvalue(), stderr.getvalue())


def gate_script(*args, cwd):
    """tools/gate.py, end to end in its own process (what CI runs)."""
    return subprocess.run([sys.executable, str(REPO / "tools" / "gate.py"), *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """Three commits: A and C identical, B with time_sleepy 3x slower and more widgets."""
    suite = ForeignSuite(tmp_path_factory.mktemp("foreign"))
    a, b, c = suite.commits
    suite.run(a, FOREIGN_SLEEP="0.01")
    suite.run(b, FOREIGN_SLEEP="0.03", FOREIGN_WIDGETS="300")
    suite.run(c, FOREIGN_SLEEP="0.01")
    return suite


def _gate_args(suite, *more):
    return ["--results", "results", "--machine", suite.machine, *more]


@pytest.mark.slow
def test_foreign_regression_exit_1_and_agrees_with_asv_compare(foreign):
    a, b, _ = foreign.commits
    out = gate_script(*_gate_args(foreign, "--commit", b, "--baseline", a, "--format", "json"), cwd=foreign.root)
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)
    ours = {c["benchmark"] for c in report["comparisons"] if c["status"] == "regressed"}
    assert ours == {"bench_foreign.Suite.time_sleepy", "bench_foreign.track_widgets"}
    assert ours == {c["benchmark"] for c in report["comparisons"] if c["asv_status"] == "regressed"}
    tests = {c["benchmark"]: c["test"] for c in report["comparisons"]}
    assert tests["bench_foreign.Suite.time_sleepy"] == "u-holm"
    assert tests["bench_foreign.track_widgets"] == "factor-only"

    compare = foreign.asv("compare", a, b, "--factor", "1.2", "--machine", foreign.machine, "--split")
    assert compare.returncode == 0, compare.stderr  # asv compare never fails: hence the gate
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in compare.stdout.splitlines() if line.startswith("|") and not line.startswith("|--")]
    theirs = {row[-1] for row in rows if row[0] == "+"}  # asv's mark for "got worse"
    assert theirs == ours


@pytest.mark.slow
def test_foreign_improvement_reported_and_passes(foreign):
    a, b, c = foreign.commits
    out = gate(*_gate_args(foreign, "--commit", c, "--baseline", b, "--fail-on", "regressions"), cwd=foreign.root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"improved\s+0\.3\d×\s+bench_foreign\.Suite\.time_sleepy", out.stdout)
    assert "PASS: 0 regression(s), 2 improvement(s)" in out.stdout


@pytest.mark.slow
def test_foreign_without_samples_uses_the_interval_test(tmp_path):
    suite = ForeignSuite(tmp_path / "nosamples")
    a, b, _ = suite.commits
    suite.run(a, record_samples=False, FOREIGN_SLEEP="0.01")
    suite.run(b, record_samples=False, FOREIGN_SLEEP="0.03")
    out = gate(*_gate_args(suite, "--commit", b, "--baseline", a, "--format", "json"), cwd=suite.root)
    report = json.loads(out.stdout)
    sleepy = next(c for c in report["comparisons"] if c["benchmark"] == "bench_foreign.Suite.time_sleepy")
    assert (sleepy["status"], sleepy["test"]) == ("regressed", "ci-99")


@pytest.mark.slow
def test_no_baseline_on_a_foreign_suite_cannot_judge(foreign):
    out = gate(*_gate_args(foreign, "--commit", foreign.commits[0]), cwd=foreign.root)
    assert out.returncode == 2
    assert "no benchmark of embedload's suite" in out.stdout


@pytest.mark.slow
def test_baseline_equal_to_current_cannot_judge(foreign):
    a = foreign.commits[0]
    out = gate(*_gate_args(foreign, "--commit", a, "--baseline", a), cwd=foreign.root)
    assert out.returncode == 2
    assert "are the same commit" in out.stderr


@pytest.mark.slow
def test_missing_results_dir(foreign):
    out = gate("--results", "nowhere", "--machine", "x", cwd=foreign.root)
    assert out.returncode == 2
    assert "results folder nowhere does not exist" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_unknown_commit(foreign):
    out = gate_script(*_gate_args(foreign, "--commit", "no-such-branch"), cwd=foreign.root)
    assert out.returncode == 2
    assert "--commit 'no-such-branch' is neither a git ref here" in out.stderr


@pytest.mark.slow
def test_commit_without_results(foreign, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(foreign.root / "results", copy)
    for f in copy.glob(f"*/{foreign.commits[1][:8]}-*.json"):
        f.unlink()
    out = gate("--results", str(copy), "--machine", foreign.machine, "--commit", foreign.commits[1], cwd=foreign.root)
    assert out.returncode == 2
    assert "no results for --commit" in out.stderr and "asv run" in out.stderr


@pytest.mark.slow
def test_corrupt_results_file(foreign, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(foreign.root / "results", copy)
    (victim,) = copy.glob(f"*/{foreign.commits[1][:8]}-*.json")
    victim.write_text(victim.read_text()[:200])
    out = gate("--results", str(copy), "--machine", foreign.machine, "--commit", foreign.commits[1],
               "--baseline", foreign.commits[0], cwd=foreign.root)
    assert out.returncode == 2
    assert "cannot read" in out.stderr or "corrupt" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_corrupt_baseline_file(foreign, tmp_path):
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    out = gate(*_gate_args(foreign, "--commit", foreign.commits[1], "--baseline", str(bad)), cwd=foreign.root)
    assert out.returncode == 2
    assert "is not valid JSON" in out.stderr


@pytest.mark.slow
def test_saved_results_file_as_baseline(foreign, tmp_path):
    (saved,) = (foreign.root / "results").glob(f"*/{foreign.commits[0][:8]}-*.json")
    kept = tmp_path / "kept-baseline.json"
    shutil.copy(saved, kept)
    out = gate(*_gate_args(foreign, "--commit", foreign.commits[1], "--baseline", str(kept)), cwd=foreign.root)
    assert out.returncode == 1
    assert "kept-baseline.json (asv" in out.stdout


@pytest.mark.slow
def test_all_benchmarks_failed(tmp_path):
    suite = ForeignSuite(tmp_path / "failing")
    a, b, _ = suite.commits
    suite.run(a)
    suite.run(b, expect_failures=True, FOREIGN_FAIL="1")
    out = gate(*_gate_args(suite, "--commit", b, "--baseline", a), cwd=suite.root)
    assert out.returncode == 2
    assert "benchmark(s) failed" in out.stdout
    assert "newly-failed" in out.stdout


@pytest.mark.slow
def test_unknown_target_key(foreign, tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.embedload.targets]\ntotl = 5.0\n")
    out = gate("--config", str(pyproject), *_gate_args(foreign, "--commit", foreign.commits[1], "--baseline", foreign.commits[0]),
               cwd=foreign.root)
    assert out.returncode == 2
    assert f"{pyproject}: unknown key 'totl' in [tool.embedload.targets]" in out.stderr


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[tool.embedload.targets]\nimport = -1\n", "import must be a positive number (s), found -1"),
        ("[tool.embedload.targets]\ninit = '3s'\n", "init must be a positive number (s), found '3s'"),
        ('[tool.embedload.targets.models."m"]\nmemroy_mb = 3\n', "unknown key 'memroy_mb' in [tool.embedload.targets.models.\"m\"]"),
        ("[tool.embedload.targets.cold]\ncold = 3\n", "unknown key 'cold' in [tool.embedload.targets.cold]"),
    ],
)
def test_bad_target_values_name_file_and_key(tmp_path, toml, message):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_targets(load_config(pyproject))
    assert message in str(err.value) and str(pyproject) in str(err.value)


def test_target_layering(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[tool.embedload.targets]\ntotal = 6\n[tool.embedload.targets.cold]\ntotal = 9\n"
        '[tool.embedload.targets.models."big"]\ninit = 5\n[tool.embedload.targets.models."big".cold]\ninit = 7\n'
    )
    table = load_targets(load_config(pyproject))
    assert table.applying_to("small", "warm") == {"total": 6, "import": 1.0, "init": 3.0, "first_encode": 0.2, "memory_mb": 500}
    assert table.applying_to("small", "cold")["total"] == 9
    assert table.applying_to("big", "warm")["init"] == 5 and table.applying_to("big", "cold")["init"] == 7
    assert table.applying_to("big", "cold")["total"] == 9


# --- our suite's results, built in memory -------------------------------------------------------

def _suite_measurements(imp=0.5, init=0.3, first=0.02, total=None, growth=300e6, steady=0.01, n=8):
    total = total if total is not None else imp + init + first
    mrc = {"model": "m", "runtime": "st-torch", "cache": "warm"}

    def timing(name, value, params):
        samples = [value * (1 + 0.01 * (i - n / 2)) for i in range(n)]
        return Measurement(name, params, value, "seconds", "ok",
                           stats={"q_25": value * 0.99, "q_75": value * 1.01, "ci_99_a": value * 0.97,
                                  "ci_99_b": value * 1.03, "repeat": n, "number": 1}, samples=samples)

    measurements = [
        timing("bench_load.Stages.track_import", imp, mrc),
        timing("bench_load.Stages.track_init", init, mrc),
        timing("bench_load.Stages.track_first_encode", first, mrc),
        timing("bench_load.Stages.track_total", total, mrc),
        Measurement("bench_load.Memory.track_rss_growth_total", mrc, growth, "bytes", "ok"),
        Measurement("bench_load.Memory.track_peak_rss_total", mrc, growth + 20e6, "bytes", "ok"),
        Measurement("bench_load.Encode.track_steady_encode", mrc, steady, "seconds", "ok"),
        Measurement("bench_load.Stages.track_init", {"model": "m", "runtime": "fastembed", "cache": "warm"}, None,
                    "seconds", "skipped", reason="fastembed is not implemented yet"),
    ]
    # as asv stores them: the combination's identity in a comparison
    return [dataclasses.replace(m, param_values=tuple(repr(v) for v in m.params.values())) for m in measurements]


#: A project that sets the seed's targets itself, so that they are gated (embedload's defaults alone are not).
SET_TARGETS = Config(path=None, section={"targets": dict(DEFAULT_TARGETS)})


def _evaluate(current, config=SET_TARGETS, **kw):
    return evaluate(current, config=config, commit="c" * 40, machine="box", **kw)


def test_default_targets_are_reported_never_gated():
    """A project that sets no target: a commit that misses two of the seed's targets, unchanged against its
    baseline, passes; the misses are shown as embedload's defaults. Without a baseline nothing is gated: exit 2."""
    current = _suite_measurements(imp=4.2, growth=650e6)
    report = _evaluate(current, config=Config(path=None), baseline=_suite_measurements(imp=4.2, growth=650e6, total=4.63),
                       baseline_name="b")
    assert report.exit_code == 0 and not report.missed and not report.gated_checks
    assert {c.metric for c in report.default_missed} == {"import", "memory_mb"}
    assert ("2 of embedload's default targets missed (not gated: none set in [tool.embedload.targets])"
            in report.verdict), report.verdict
    assert "✗ Import             4.20 s / 1.00 s (embedload's default, not gated) target" in render_text(report)
    assert [t["gated"] for t in json.loads(render_json(report))["targets"]] == [False] * 5
    alone = _evaluate(current, config=Config(path=None))
    assert alone.exit_code == 2 and "nothing to gate: [tool.embedload.targets] sets no target" in alone.verdict


def test_only_the_targets_a_project_sets_are_gated():
    config = Config(path=None, section={"targets": {"memory_mb": 600}})
    report = _evaluate(_suite_measurements(imp=4.2, growth=650e6), config=config)
    assert report.exit_code == 1 and [c.metric for c in report.missed] == ["memory_mb"]
    assert [c.metric for c in report.default_missed] == ["import"]
    assert report.verdict.startswith("FAIL: 0/1 targets met, 1 of embedload's default targets missed"), report.verdict
    cold = Config(path=None, section={"targets": {"cold": {"import": 9.0}}})
    assert load_targets(cold).set_for("m", "warm") == set() and load_targets(cold).set_for("m", "cold") == {"import"}


def test_what_asv_calls_regressed_never_passes():
    """In a large family the gate's share of the level can be stricter than asv's own p < 0.002: a comparison
    asv's rule calls regressed is a regression whatever the gate's test found."""
    from embedload.judge.gate import _judge_sampled
    from embedload.judge.verdicts import Comparison

    base = [1.0 + 0.01 * i for i in range(20)]
    cur = [2 * x for x in base]
    c = Comparison("b.track_x", "seconds", 1.1, 2.2, "regressed", "u-holm", asv_status="regressed", p_values=(0.5, 0.5))
    _judge_sampled([(c, cur, base)], 1.1)
    assert c.status == "regressed"
    c = Comparison("b.track_x", "seconds", 1.1, 2.2, "unchanged", "u-holm", asv_status="unchanged", p_values=(0.5, 0.5))
    _judge_sampled([(c, cur, base)], 1.1)
    assert c.status == "insignificant"  # beyond the factor, but neither test says so


def test_within_targets_exit_0():
    report = _evaluate(_suite_measurements())
    assert report.exit_code == 0 and len(report.checks) == 5 and not report.missed
    assert "fastembed is not implemented yet" in render_text(report)


def test_what_a_bench_regex_left_out_is_one_line_with_its_benchmarks_counted():
    """asv stores a combination --bench left out as skipped, with no reason: one grouped line, not one per benchmark."""
    from embedload.results.asv_results import not_run_reason

    left_out = [Measurement(f"bench_load.Memory.track_{fig}", {"model": "m", "runtime": rt, "cache": "warm"}, None,
                            "bytes", "skipped", reason=not_run_reason("c" * 40))
                for fig in ("a", "b", "c", "d") for rt in ("st-onnx", "fastembed", "st-openvino")[: 1 + (fig == "a") * 2]]
    text = render_text(_evaluate(_suite_measurements() + left_out))
    lines = [ln.strip() for ln in text.splitlines()]
    assert "skipped: 7 benchmark/param combinations" in lines
    (grouped,) = [ln for ln in lines if ln.startswith("6 × not run (a --bench regex left it out)")]
    assert "--bench '<benchmark>' cccccccc^!` runs one" in grouped
    assert ("in bench_load.Memory.track_a (3), bench_load.Memory.track_b (1), bench_load.Memory.track_c (1) "
            "(+1 more)") in lines
    assert "1 × fastembed is not implemented yet" in lines  # a kept reason stays its own line


def test_missed_target_exit_1_and_recommendations_cite_numbers():
    report = _evaluate(_suite_measurements(imp=4.2, growth=650e6, first=0.12, steady=0.012))
    assert report.exit_code == 1
    assert {c.metric for c in report.missed} == {"import", "memory_mb"}
    text = "\n".join(report.recommendations)
    assert "import is 91% of the total (4.20 s of 4.62 s)" in text
    assert "first encode is 10.0× the steady-state encode (120 ms vs 12 ms): warm up at start" in text
    assert "memory is 130% of its target (650 MB RSS growth vs 500 MB)" in text


def test_fail_on_regressions_only_ignores_targets():
    base = _suite_measurements(imp=4.21)
    report = _evaluate(_suite_measurements(imp=4.2), baseline=base, baseline_name="b", fail_on=("regressions",))
    assert report.missed and report.exit_code == 0
    assert report.verdict == "PASS: 4/5 targets met (not gated: --fail-on regressions), 0 regression(s), 0 improvement(s) vs b"


def test_planted_import_regression_exit_1():
    report = _evaluate(_suite_measurements(imp=1.0), baseline=_suite_measurements(imp=0.5), baseline_name="b")
    (reg,) = [c for c in report.regressions if "track_import" in c.name]
    assert reg.ratio == pytest.approx(2.0) and reg.test == "u-holm" and reg.asv_status == "regressed"
    assert report.exit_code == 1


def test_nothing_measured_never_passes():
    skipped = [m for m in _suite_measurements() if m.status == "skipped"]
    report = _evaluate(skipped)
    assert report.exit_code == 2 and "nothing was measured" in report.verdict
    assert _evaluate([]).exit_code == 2


def test_import_only_results_are_shown_and_held_to_the_import_target():
    # `asv run --bench track_import`: the import of the model's load, and nothing else of it.
    imports = [m for m in _suite_measurements(imp=4.2) if "track_import" in m.benchmark]
    report = _evaluate(imports)
    (check,) = report.checks
    assert (check.row, check.metric, check.value) == ("m / st-torch / warm", "import", 4.2)
    assert report.exit_code == 1
    assert "import misses its target" in "\n".join(report.recommendations)
    assert "Import Time:        4.20 s" in render_text(report)


def test_models_are_compared_on_what_they_cost():
    small = _suite_measurements(init=0.40, first=0.02, growth=500e6, steady=0.012)
    big = [Measurement(m.benchmark, {**m.params, "model": "big"}, m.value, m.unit, m.status, stats=m.stats,
                       samples=m.samples, reason=m.reason)
           for m in _suite_measurements(init=0.45, first=0.10, growth=800e6, steady=0.068)
           if "model" in m.params and m.status == "ok"]
    report = _evaluate(small + big)
    text = "\n".join(report.recommendations)
    assert ("big vs m: init + first encode 550 ms vs 420 ms (1.31×), steady-state encode 68 ms vs 12 ms (5.7×), "
            "RSS growth 800 MB vs 500 MB [st-torch, warm]; the import (500 ms) does not depend on the model") in text
    assert "only m was measured" not in text


def test_baseline_with_no_benchmark_in_common_cannot_judge():
    renamed = [Measurement(m.benchmark.replace("bench_", "old_"), m.params, m.value, m.unit, m.status,
                           stats=m.stats, samples=m.samples) for m in _suite_measurements()]
    report = _evaluate(_suite_measurements(), baseline=renamed, baseline_name="old.json")
    assert report.exit_code == 2
    assert "no benchmark measured on both sides, in the same version, with the baseline old.json" in report.verdict
    assert "before one load per sample" not in report.verdict


def test_a_baseline_of_the_design_before_one_load_cannot_be_judged_and_says_why():
    from embedload.base.catalog import BEFORE_ONE_LOAD

    today = {new: old for old, new in BEFORE_ONE_LOAD.items()}
    before = [dataclasses.replace(m, benchmark=today[m.benchmark]) for m in _suite_measurements() if m.benchmark in today]
    report = _evaluate(_suite_measurements(), baseline=before, baseline_name="61b3e01", fail_on=("regressions",))
    assert report.exit_code == 2
    assert ("the baseline's results are of the design before one load per sample (bench_timing, bench_probe), which "
            "are not one series with today's figures: measure the baseline again with this suite") in report.verdict


def test_fail_on_regressions_without_a_baseline_cannot_judge():
    report = _evaluate(_suite_measurements(), fail_on=("regressions",))
    assert report.exit_code == 2 and "--fail-on regressions needs --baseline" in report.verdict


def test_fail_on_targets_with_only_foreign_benchmarks_cannot_judge():
    foreign = [Measurement("bench_other.time_x", {}, 0.1, "seconds", "ok")]
    report = _evaluate(foreign, baseline=foreign, baseline_name="b", fail_on=("targets",))
    assert report.exit_code == 2
    assert "--fail-on targets, but no benchmark of embedload's suite was measured" in report.verdict


def test_formats():
    report = _evaluate(_suite_measurements(imp=1.0), baseline=_suite_measurements(imp=0.5), baseline_name="b")
    schema = json.loads((REPO / "docs" / "gate-report.schema.json").read_text())
    data = json.loads(render_json(report))
    jsonschema.validate(data, schema)
    assert data["exit_code"] == 1

    root = ET.fromstring(render_junit(report))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert int(suites["embedload.targets"].get("tests")) == 5
    assert int(suites["embedload.regressions"].get("failures")) >= 1
    cases = list(root.iter("testcase"))
    assert all(c.get("classname") and c.get("name") for c in cases)
    assert any(c.find("failure") is not None and "import" in c.get("name") for c in cases)

    md = render_markdown(report)
    lines = md.splitlines()
    header = lines.index("| model | runtime | cache | import | init | first encode | total | RSS growth | peak RSS |")
    assert re.fullmatch(r"\|(---:?\|)+", lines[header + 1])
    assert lines[header + 2].count("|") == lines[header].count("|")
    assert md.startswith("## ❌ embedload: FAIL")


def test_import_costs_are_cited_with_their_chains():
    imports = {"distributions": [
        {"distribution": "python (stdlib)", "self_seconds": 0.2, "share": 0.05, "chain": "json", "entry_cumulative_seconds": 0.01},
        {"distribution": "torch", "self_seconds": 1.9, "share": 0.42, "chain": "torch ← transformers.x ← sentence_transformers.backend.load", "entry_cumulative_seconds": 1.1},
        {"distribution": "scikit-learn", "self_seconds": 0.07, "share": 0.015, "chain": "sklearn.metrics ← sentence_transformers.util.similarity", "entry_cumulative_seconds": 1.05},
    ]}
    report = _evaluate(_suite_measurements(imp=4.2), imports=imports)
    text = "\n".join(report.recommendations)
    assert "import cost: torch 1.90 s self time (42% of the import under -X importtime), pulled in by torch ← transformers.x" in text
    assert "sklearn.metrics ← sentence_transformers.util.similarity (1.05 s with what it imports)" in text
    assert "python (stdlib)" not in text


@pytest.mark.parametrize("ref", ["origin/main", "release/v1"])
@pytest.mark.slow
def test_a_ref_with_a_slash_is_a_ref(foreign, ref):
    """The documented CI command: --baseline origin/main."""
    a, b, _ = foreign.commits
    name = f"refs/remotes/{ref}" if ref.startswith("origin/") else f"refs/heads/{ref}"
    foreign._git("update-ref", name, a)
    out = gate(*_gate_args(foreign, "--commit", b, "--baseline", ref), cwd=foreign.root)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"vs {ref} ({a[:8]})" in out.stdout


@pytest.mark.slow
def test_a_name_that_is_a_file_and_a_ref_is_refused(foreign):
    a, b, _ = foreign.commits
    (foreign.root / "main").write_text("{}")
    try:
        out = gate(*_gate_args(foreign, "--commit", b, "--baseline", "main"), cwd=foreign.root)
    finally:
        (foreign.root / "main").unlink()
    assert out.returncode == 2
    assert "--baseline 'main' is both a file here and a git ref; write ./main for the file" in out.stderr


def test_show_table_has_a_row_per_model_runtime_cache():
    from embedload.render.results_table import format_results_table
    from embedload.results.asv_results import CommitResults

    lines = format_results_table(CommitResults("a" * 40, "box", _suite_measurements(), {}, [])).splitlines()
    assert lines[0] == "asv results for aaaaaaaa on machine box"
    assert lines[1].split()[:7] == ["model", "runtime", "cache", "import", "init", "first_encode", "total"]
    assert set(lines[2]) == {"-", " "}
    assert lines[3].split()[:4] == ["m", "st-torch", "warm", "500"] and "820 ms ±8.2 ms (n=8)" in lines[3]
    assert "ratio 1.000" in "\n".join(lines)


def test_show_counts_the_interpreters_and_names_the_design_before_without_joining_it():
    from embedload.measure.conditions import Conditions
    from embedload.render.results_table import format_results_table
    from embedload.results.asv_results import CommitResults

    rounds = Conditions(rounds=4, wall=40.0, other_cpu=0.0, steal=0.0, load=0.1, samples=8)
    current = [dataclasses.replace(m, conditions=rounds) if m.status == "ok" else m for m in _suite_measurements()]
    old = Measurement("bench_timing.Load.timeraw_total", {"model": "m", "runtime": "st-torch", "cache": "warm"},
                      99.0, "seconds", "ok")
    text = format_results_table(CommitResults("a" * 40, "box", current + [old], {}, []))
    assert "samples: 8 measured fresh interpreters in the latest asv run of each combination" in text  # not 8 per class
    assert "99" not in text.split("times: median")[0]  # the old design's figure is not in the table
    [row] = [line for line in text.splitlines() if line.startswith("m ")]
    assert row.split()[:3] == ["m", "st-torch", "warm"] and "820 ms ±8.2 ms (n=8)" in row  # today's total, alone
    assert "not shown: results of bench_timing, the design before one load per sample" in text


def test_a_loaders_strategy_labels_its_rows(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.embedload.suite]\nloaders = [{loader = "app.embed:load", strategy = "lazy"}]\n')
    loader = [Measurement(m.benchmark, {**m.params, "runtime": "app.embed:load"}, m.value, m.unit, m.status,
                          stats=m.stats, samples=m.samples) for m in _suite_measurements() if m.status == "ok"]
    report = evaluate(loader, config=load_config(pyproject), commit="c" * 40, machine="box")
    assert {r.strategy for r in report.rows} == {"lazy"}
    assert any(r.startswith("only your loader app.embed:load was measured; add a built-in runtime") for r in report.recommendations)
    assert not any("make bench-runtimes" in r for r in report.recommendations)  # embedload's own target, not the app's
    assert "Runtime: app.embed:load (lazy)" in render_text(report)
    assert "| m | app.embed:load (lazy) | warm |" in render_markdown(report)
    document = json.loads(render_json(report))
    jsonschema.validate(document, json.loads((REPO / "docs" / "gate-report.schema.json").read_text()))
    assert {(r["runtime"], r["strategy"]) for r in document["rows"]} == {("app.embed:load", "lazy")}
    assert {r["strategy"] for r in json.loads(render_json(_evaluate(_suite_measurements())))["rows"]} == {None}


# --- how the two sides were measured: rounds interleaved, separate runs, or not recorded -----------------

def _sampled(samples, span):
    """One timing measured at ``span`` (first round's start, last round's end; None: not recorded)."""
    from embedload.measure.conditions import Conditions

    conditions = Conditions(4, 8.0, 0.0, 0.0, 0.1, *span) if span else None
    value = sorted(samples)[len(samples) // 2]
    return Measurement("bench_load.Stages.track_import", {"runtime": "st-torch", "cache": "warm"}, value, "seconds",
                       "ok", stats={"q_25": value, "q_75": value, "ci_99_a": min(samples), "ci_99_b": max(samples),
                                    "repeat": len(samples), "number": 1},
                       samples=list(samples), param_values=("'st-torch'", "'warm'"), conditions=conditions)


def test_separate_runs_are_judged_by_asvs_rule_and_interleaved_rounds_by_the_gates_test():
    """Fixed samples (nothing random): 8 a side, current 7% slower with the two overlapping. The gate's
    one-sided test flags it (p = 0.010); asv's two-sided test does not (p = 0.021, not below 0.002).
    Which one judges depends only on whether the sides' rounds overlapped in time."""
    from embedload.judge.gate import compare

    base = [1.00, 1.02, 1.04, 1.06, 1.08, 1.10, 1.12, 1.14]
    cur = [x * 1.07 for x in base]
    cases = {"interleaved": ((0, 100), (50, 150)), "separate": ((0, 100), (200, 300)), "unknown": (None, (0, 100))}
    found = {}
    for sides, (base_span, cur_span) in cases.items():
        (c,) = compare([_sampled(cur, cur_span)], [_sampled(base, base_span)], threshold=1.1)
        found[sides] = (c.sides, c.test, c.status, c.asv_status)
    assert found["interleaved"] == ("interleaved", "u-holm", "regressed", "unchanged")
    assert found["separate"] == ("separate", "asv-separate-runs", "unchanged", "unchanged")
    assert found["unknown"] == ("unknown", "u-holm", "regressed", "unchanged")

    # the report says which rule judged, and that unrecorded timing leaves drift uncovered
    separate = _evaluate([_sampled(cur, (200, 300))], baseline=[_sampled(base, (0, 100))], baseline_name="b")
    text = render_text(separate)
    assert "judged by asv's rule" in text and " 0 regression(s)" in separate.verdict
    unknown = _evaluate([_sampled(cur, None)], baseline=[_sampled(base, (0, 100))], baseline_name="b")
    assert "without recorded round times" in render_text(unknown) and " 1 regression(s)" in unknown.verdict
    document = json.loads(render_json(separate))
    assert document["comparisons"][0]["sides"] == "separate" and document["comparisons"][0]["test"] == "asv-separate-runs"
    assert document["timing_notes"]
    jsonschema.validate(document, json.loads((REPO / "docs" / "gate-report.schema.json").read_text()))


def test_memory_is_judged_in_a_family_of_its_own():
    """Fixed samples: the import 7% slower (one-sided p = 0.010), beside 14 memory figures of the same
    code. Alone in the times' family (alpha 0.05) it is a regression; had the memory comparisons shared
    that family (alpha 0.05/15 for the smallest p), it would not be."""
    import dataclasses

    from embedload.base.power import one_sided_p
    from embedload.judge.gate import compare

    base = [1.00, 1.02, 1.04, 1.06, 1.08, 1.10, 1.12, 1.14]
    cur = [x * 1.07 for x in base]
    assert 0.05 / 15 < one_sided_p(cur, base)[0] < 0.05
    span = (0, 100)
    memory = []
    for i in range(14):
        mem_base = [600e6 + 1e4 * (j % 4) for j in range(8)]
        for side, samples in (("current", [x + 5e3 for x in mem_base]), ("baseline", mem_base)):
            m = dataclasses.replace(_sampled(samples, span), benchmark=f"bench_load.Memory.track_m{i}", unit="bytes")
            memory.append((side, m))
    current = [_sampled(cur, span)] + [m for side, m in memory if side == "current"]
    baseline = [_sampled(base, span)] + [m for side, m in memory if side == "baseline"]
    found = {c.name.split("(")[0]: c for c in compare(current, baseline, threshold=1.1)}
    assert found["bench_load.Stages.track_import"].status == "regressed"
    assert found["bench_load.Stages.track_import"].power.alpha == 0.05
    assert {found[f"bench_load.Memory.track_m{i}"].status for i in range(14)} == {"unchanged"}
    assert found["bench_load.Memory.track_m0"].power.alpha == 0.05 / 14


def test_too_few_samples_cannot_judge_even_a_huge_slowdown():
    """3 samples a side: the one-sided U test's smallest p is 1/C(6,3) = 0.05, never below its level, so
    even a 50x slowdown cannot be a regression by it; the gate says so and exits 2, never PASS."""
    span = (0, 100)
    base = [1.00, 1.01, 1.02]
    report = _evaluate([_sampled([50 * x for x in base], span)], baseline=[_sampled(base, span)], baseline_name="b",
                       fail_on=("regressions",))
    assert report.exit_code == 2
    assert ("1 sampled comparison(s) have too few samples for the gate's test to reject at its level, whatever the "
            "slowdown: bench_load.Stages.track_import(st-torch, warm) has 3 + 3, and at level 0.05 the test needs at "
            "least 4 a side; measure both commits with more rounds (asv run -a rounds=N: 2 samples a round, so "
            "-a rounds=2 or more)") in report.verdict
    enough = _evaluate([_sampled([50 * x for x in base + [1.03]], span)], baseline=[_sampled(base + [1.03], span)],
                       baseline_name="b", fail_on=("regressions",))
    assert enough.exit_code == 1  # 4 a side: 1/C(8,4) = 0.014 < 0.05

"""The gate gives asv compare's verdict on real asv results, or says plainly that it cannot.

The fixture (tests/fixtures/gate_multienv, made by make_gate_fixture.py) holds real asv results
of a small suite: five commits, two environments per commit, failed, skipped, version-changed
and parameterized benchmarks. Its folder has no git: commits resolve through the results.
"""

import contextlib
import io
import itertools
import json
import math
import random
import shutil
from pathlib import Path

import pytest

from embedload.commands.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "gate_multienv"
COMMITS = json.loads((FIXTURE / "commits.json").read_text())
MACHINE = "fixturebox"


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A writable copy of the fixture's results, the working directory in a folder without git."""
    copy = tmp_path / "results"
    shutil.copytree(FIXTURE / "results", copy)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setenv("EMBEDLOAD_CONFIG", str(tmp_path / "pyproject.toml"))
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return copy


def run_gate(*args):
    """``embedload gate`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["gate", "--results", "results", "--machine", MACHINE, *args])
    return code, out.getvalue(), err.getvalue()


def env_file(results_dir, commit, env):
    (path,) = (results_dir / MACHINE).glob(f"{commit[:8]}-*py-{env}_*.json")
    return path


def asv_compare_sets(results_dir, before, after, factor):
    """``asv compare --split --factor F`` run by asv itself: {color: {(name, env)}}."""
    from asv.commands.compare import Compare
    from asv.config import Config

    conf = Config.from_json({"results_dir": str(results_dir), "repo": ".", "project": "fixture",
                             "benchmark_dir": "benchmarks", "html_dir": "html", "env_dir": "env"})
    out = io.StringIO()
    groups = {"green": set(), "red": set(), "lightgrey": set(), "default": set()}
    titles = {"Benchmarks that have improved:": "green", "Benchmarks that have got worse:": "red",
              "Benchmarks that are not comparable:": "lightgrey", "Benchmarks that have stayed the same:": "default"}
    with contextlib.redirect_stdout(out):
        Compare.print_table(conf, before, after, factor=factor, split=True, machine=MACHINE)
    current = None
    for line in out.getvalue().splitlines():
        if line.strip() in titles:
            current = titles[line.strip()]
        elif line.startswith("|") and not line.startswith("|--") and "Benchmark (Parameter)" not in line:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            name, _, env = cells[-1].rpartition(" [")
            groups[current].add((name, env.rstrip("]").split("/", 1)[1]))
    return groups


def gate_sets(report, verdict="asv_status"):
    groups = {"green": set(), "red": set(), "lightgrey": set(), "default": set()}
    color = {"regressed": "red", "newly-failed": "red", "improved": "green", "fixed": "green", "not-comparable": "lightgrey"}
    for c in report["comparisons"]:
        groups[color.get(c[verdict], "default")].add((c["asv_name"], c["env"]))
    return groups


@pytest.mark.parametrize("factor", [1.05, 1.2])
def test_every_pair_agrees_with_asv_compare(results, factor):
    seen = set()
    for before, after in itertools.permutations(COMMITS, 2):
        code, out, err = run_gate("--commit", after, "--baseline", before, "--threshold", str(factor),
                                  "--fail-on", "regressions", "--format", "json")
        report = json.loads(out)
        theirs = asv_compare_sets(results, before, after, factor)
        assert gate_sets(report) == theirs, (before[:8], after[:8])  # asv's verdict, shown beside the gate's
        for c in report["comparisons"]:  # the gate's own differs only where it ran its own test (samples both sides)
            assert c["status"] == c["asv_status"] or c["test"] == "u-holm", c
        regressed = any(c["status"] == "regressed" for c in report["comparisons"])
        failed = any(m["status"] == "failed" for m in report["not_measured"])
        assert code == (1 if regressed else 2 if failed else 0), (before[:8], after[:8], report["verdict"])
        seen |= {c["status"] for c in report["comparisons"]}
    # the fixture exercises every verdict asv can give
    assert {"regressed", "improved", "newly-failed", "fixed", "not-comparable", "n/a", "unchanged"} <= seen


# --- 0 and 1: naming the two sides -------------------------------------------------------------

def test_same_results_under_two_names_cannot_judge(results):
    full = COMMITS[1]
    code, out, err = run_gate("--commit", full, "--baseline", full[:8])
    assert code == 2 and "are the same commit" in err, out + err


def test_a_copy_of_the_current_results_as_baseline_cannot_judge(results, tmp_path):
    copy = tmp_path / "copy.json"
    shutil.copy(env_file(results, COMMITS[1], "e1"), copy)
    code, out, err = run_gate("--commit", COMMITS[1], "--baseline", str(copy))
    assert code == 2 and "holds the same results as the current ones" in out


def test_a_missing_json_file_is_a_file_and_a_bare_word_is_a_ref(results):
    code, _, err = run_gate("--commit", COMMITS[1], "--baseline", "nowhere/base.json")
    assert code == 2 and "--baseline file nowhere/base.json does not exist" in err
    code, _, err = run_gate("--commit", COMMITS[1], "--baseline", "origin/main")
    assert code == 2 and "--baseline 'origin/main' is neither a git ref here" in err


def test_ambiguous_prefix_names_the_option(results):
    # A second commit whose hash shares the first one's 7 leading digits.
    src = env_file(results, COMMITS[0], "e1")
    twin_hash = COMMITS[0][:7] + ("0" if COMMITS[0][7] != "0" else "1") + COMMITS[0][8:]
    data = json.loads(src.read_text())
    data["commit_hash"] = twin_hash
    (src.parent / src.name.replace(COMMITS[0][:8], twin_hash[:8])).write_text(json.dumps(data))
    code, _, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0][:7])
    assert code == 2 and f"--baseline '{COMMITS[0][:7]}' is ambiguous" in err
    code, _, err = run_gate("--commit", COMMITS[0][:7], "--baseline", COMMITS[1])
    assert code == 2 and f"--commit '{COMMITS[0][:7]}' is ambiguous" in err


# --- 2: environments ----------------------------------------------------------------------------

def test_a_baseline_from_another_environment_is_not_compared(results):
    env_file(results, COMMITS[0], "e1").unlink()  # c1 keeps only e2
    env_file(results, COMMITS[1], "e2").unlink()  # c2 keeps only e1
    code, out, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0])
    assert code == 2, out
    assert "has no results in the current results' environment" in out
    assert "py-e1" in out and "py-e2" in out and "--baseline-env" in out
    # crossing is the user's explicit choice, and every row names both environments
    base_env = json.loads(env_file(results, COMMITS[0], "e2").read_text())["env_name"]
    code, out, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0], "--baseline-env", base_env,
                              "--format", "json")
    report = json.loads(out)
    assert code == 1, report["verdict"]
    assert report["comparisons"] and all(f"vs baseline {base_env}]" in c["benchmark"] for c in report["comparisons"])


def test_a_results_file_of_another_environment_is_not_compared(results, tmp_path):
    saved = tmp_path / "base.json"
    shutil.copy(env_file(results, COMMITS[0], "e2"), saved)
    env_file(results, COMMITS[1], "e2").unlink()
    code, out, _ = run_gate("--commit", COMMITS[1], "--baseline", str(saved))
    assert code == 2 and "has no results in the current results' environment" in out


# --- 3: params ------------------------------------------------------------------------------------

def test_param_names_fewer_than_the_results_params_do_not_merge_combinations(results):
    info_path = results / "benchmarks.json"
    info = json.loads(info_path.read_text())
    info["bench_fixture.Work.time_work"]["param_names"] = ["kind"]  # an older version's names
    info_path.write_text(json.dumps(info))
    code, out, _ = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0], "--format", "json")
    work = [c for c in json.loads(out)["comparisons"] if "Work.time_work" in c["asv_name"] and "e1" in c["env"]]
    assert len(work) == 4
    assert {c["asv_name"]: c["status"] for c in work} == {
        "bench_fixture.Work.time_work('a', '1')": "regressed", "bench_fixture.Work.time_work('a', '2')": "regressed",
        "bench_fixture.Work.time_work('b', '1')": "unchanged", "bench_fixture.Work.time_work('b', '2')": "unchanged"}


# --- 4: malformed inputs ------------------------------------------------------------------------------

def _mutate_file(path, change):
    data = json.loads(path.read_text())
    data = change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("what, change", [
    ("a top-level list", lambda d: [d]),
    ("a string where a number belongs",
     lambda d: {**d, "results": {**d["results"], "bench_fixture.track_widgets": [["many"], *d["results"]["bench_fixture.track_widgets"][1:]]}}),
    ("a row holding only result", lambda d: {**d, "results": {k: v[:1] for k, v in d["results"].items()}}),
    ("a parameter row shorter than its grid",
     lambda d: {**d, "results": {**d["results"], "bench_fixture.Work.time_work": [d["results"]["bench_fixture.Work.time_work"][0][:1], *d["results"]["bench_fixture.Work.time_work"][1:]]}}),
])
def test_a_malformed_results_file_is_exit_2_with_one_line(results, what, change):
    victim = env_file(results, COMMITS[1], "e1")
    _mutate_file(victim, change)
    code, out, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0])
    assert code == 2, (what, out, err)
    assert len(err.strip().splitlines()) == 1 and victim.name in err and "internal error" not in err, err


def test_benchmarks_json_that_is_a_list_is_exit_2(results):
    (results / "benchmarks.json").write_text("[]")
    code, _, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0])
    assert code == 2 and "benchmarks.json is not asv's benchmark list" in err


def test_a_corrupt_machine_json_says_so_not_run_asv(results):
    (results / MACHINE / "machine.json").write_text("{broken")
    code, _, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0])
    assert code == 2 and "not a valid asv machine file" in err and "asv run` first" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("runs, expected", [
    ([], "holds no runs (its 'runs' is empty)"),
    ([{"model": "m"}], "run 1 is not an embedload probe record (no string 'runtime')"),
    (["x"], "run 1 is not an embedload probe record (a str, not an object)"),
])
@pytest.mark.parametrize("command", ["gate", "profile"])
def test_a_malformed_profile_baseline_is_exit_2(results, tmp_path, runs, expected, command):
    bad = tmp_path / "base.json"
    bad.write_text(json.dumps({"schema": "embedload.profile/1", "runs": runs}))
    if command == "gate":
        code, _, err = run_gate("--commit", COMMITS[1], "--baseline", str(bad))
    else:
        err_io = io.StringIO()
        with contextlib.redirect_stderr(err_io), contextlib.redirect_stdout(io.StringIO()):
            code = main(["profile", "--baseline", str(bad)])
        err = err_io.getvalue()
    assert code == 2 and expected in err and "Traceback" not in err, err


# --- 5 and 6: order of checks, failures ---------------------------------------------------------------

def test_version_change_comes_before_newly_failing(results):
    # c3/e1: time_versioned was edited *and* fails; asv marks it x, not "!"
    code, out, _ = run_gate("--commit", COMMITS[2], "--baseline", COMMITS[1], "--format", "json")
    (row,) = [c for c in json.loads(out)["comparisons"] if c["asv_name"] == "bench_fixture.time_versioned" and "e1" in c["env"]]
    assert row["status"] == "not-comparable"


def test_failures_do_not_hide_a_regression(results):
    code, out, _ = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0])  # e2 fails, e1 regressed
    assert code == 1
    assert "FAIL: 3 regression(s)" in out and "2 benchmark(s) failed" in out


def test_failures_alone_cannot_judge_unless_allowed(results):
    # c4 against c5: kind b skipped, Plain failing in e2, nothing slower
    code, out, _ = run_gate("--commit", COMMITS[3], "--baseline", COMMITS[4], "--threshold", "1.5")
    assert code == 2 and "pass --allow-failures to gate on the rest" in out
    for fmt in ("text", "markdown", "json", "junit"):
        code, out, _ = run_gate("--commit", COMMITS[3], "--baseline", COMMITS[4], "--threshold", "1.5",
                                "--allow-failures", "--format", fmt)
        assert code == 0, out
        assert "bench_fixture.Plain.time_sleepy" in out  # the failures are still listed
    assert "2 benchmark(s) failed (not gated: --allow-failures)" in run_gate(
        "--commit", COMMITS[3], "--baseline", COMMITS[4], "--threshold", "1.5", "--allow-failures")[1]


# --- 7: messages -----------------------------------------------------------------------------------------

def test_newly_failed_reads_as_english_in_junit(results):
    code, out, _ = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0], "--format", "junit")
    assert "newly failed: failed in the current results, measured in the baseline" in out
    assert "n/a of baseline" not in out and "(none)" not in out


@pytest.mark.parametrize("value", ["inf", "nan", "1e308", "1"])
def test_a_threshold_that_can_never_fail_is_refused(results, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["gate", "--results", "results", "--commit", COMMITS[1], "--threshold", value])
    assert exit_.value.code == 2 and "--threshold is a slowdown factor between 1 and 100" in capsys.readouterr().err


# --- the fuzz test ---------------------------------------------------------------------------------------

def _mutations(rng):
    weird = [None, "x", [], {}, True, -1, 0, 1e308, -1e308, float("nan"), float("inf"), [1, 2], {"a": 1}, 10**30]

    def paths(node, prefix=()):
        yield prefix
        if isinstance(node, dict):
            for k, v in node.items():
                yield from paths(v, prefix + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from paths(v, prefix + (i,))

    def get(node, path):
        for p in path:
            node = node[p]
        return node

    def swap(data):
        choices = [p for p in paths(data) if p]
        if not choices:
            return rng.choice(weird)
        path = rng.choice(choices)
        get(data, path[:-1])[path[-1]] = rng.choice(weird)
        return data

    def drop(data):
        choices = [p for p in paths(data) if p]
        if not choices:
            return data
        path = rng.choice(choices)
        parent = get(data, path[:-1])
        del parent[path[-1]]
        return data

    def resize(data):
        lists = [p for p in paths(data) if isinstance(get(data, p), list) and get(data, p)]
        if not lists:
            return data
        target = get(data, rng.choice(lists))
        if rng.random() < 0.5:
            target.pop()
        else:
            target.append(rng.choice(weird))
        return data

    return [swap, drop, resize]


@pytest.mark.slow
def test_fuzz_every_mutation_is_a_judgment_or_one_line(results):
    """200+ seeded mutations of real results files: a verdict (0/1), or exit 2 with one line."""
    rng = random.Random(20261124)
    victims = [env_file(results, COMMITS[1], "e1"), env_file(results, COMMITS[0], "e1"), results / "benchmarks.json"]
    originals = {p: p.read_bytes() for p in victims}
    outcomes = {0: 0, 1: 0, 2: 0}
    for i in range(240):  # seed and count fixed: the same 240 mutations every run
        victim = rng.choice(victims)
        raw = originals[victim]
        if i % 8 == 0:
            victim.write_bytes(raw[: rng.randrange(len(raw))])  # truncation
        else:
            data = json.loads(raw)
            for _ in range(rng.randint(1, 3)):
                data = rng.choice(_mutations(rng))(data)
            victim.write_text(json.dumps(data))  # NaN/inf are written as asv's json would read them
        code, out, err = run_gate("--commit", COMMITS[1], "--baseline", COMMITS[0], "--format", "json")
        assert code in outcomes, (i, victim.name, err)
        assert "internal error" not in err and "Traceback" not in err, (i, victim.name, err)
        if code == 2 and err:
            assert len(err.strip().splitlines()) == 1, (i, err)
        if not err:
            report = json.loads(out)
            assert report["exit_code"] == code
            assert all(c["ratio"] is None or not math.isnan(c["ratio"]) for c in report["comparisons"])
        outcomes[code] += 1
        victim.write_bytes(raw)
    assert outcomes[2] > 50 and outcomes[1] + outcomes[0] > 20, outcomes

"""The asv suite: fixed params, skips with reasons, one round of fresh interpreters behind every figure."""

import json
import re
import shlex
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO))
from benchmarks import bench_load, bench_strategy  # noqa: E402
from embedload.base.catalog import PROBE_BENCHMARKS, TIMING_BENCHMARKS  # noqa: E402
from embedload.base.children import OFFLINE_ENV  # noqa: E402
from embedload.measure import runtimes  # noqa: E402
from embedload.models.registry import resolve_model  # noqa: E402
from embedload.suite import harness  # noqa: E402

MODELS = ("all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "all-mpnet-base-v2")
RUNTIMES = ("st-torch", "st-onnx", "st-onnx-int8", "st-openvino", "fastembed")
CACHES = ("warm", "cold")
LOAD_CLASSES = (bench_load.Stages, bench_load.Memory, bench_load.Encode, bench_load.Check)


def test_params_are_fixed_strings():
    for cls in LOAD_CLASSES:
        assert cls.params == (MODELS, RUNTIMES, CACHES)
        assert cls.param_names == ["model", "runtime", "cache"]


def _make_rounds(target):
    """The -a rounds=N a make target's asv command passes (None: none)."""
    dry = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True).stdout
    dry = dry.replace("\\\n", " ")  # a command continued over lines
    (cmd,) = [shlex.split(ln) for ln in dry.splitlines() if re.search(r"(^|/)asv (run|continuous) ", ln)]
    return cmd, (int(cmd[cmd.index("-a") + 1].split("=")[1]) if "-a" in cmd else None)


@pytest.mark.parametrize("target, samples", [("bench", 8), ("bench-models", 8), ("bench-strategies", 8),
                                             ("bench-runtimes", 8), ("history", 8), ("gate", 20)])
def test_every_make_target_says_how_its_samples_are_spread(target, samples):
    """asv runs a track_ benchmark for one round unless -a rounds=N: each target gives its rounds, and
    rounds x SAMPLES_PER_ROUND is the sample count docs/measurement.md states. The gate's rounds
    alternate between the two commits (--interleave-rounds)."""
    cmd, rounds = _make_rounds(target)
    assert rounds is not None and rounds * harness.SAMPLES_PER_ROUND == samples, cmd
    if target == "gate":
        assert "HASHFILE:-" in cmd and "--interleave-rounds" in cmd and rounds == harness.GATE_ROUNDS
    else:
        assert rounds == harness.ROUNDS


def test_the_workflow_init_writes_gives_the_gates_rounds():
    from embedload.commands.adopt import BENCH_SOURCE, workflow_text

    workflow = workflow_text("main", "embedload==0.1.0")
    assert f"-a rounds={harness.GATE_ROUNDS} " in workflow and "--interleave-rounds" in workflow
    assert "-a rounds=N" in BENCH_SOURCE


def test_enough_samples_for_mann_whitney():
    """docs/asv.md: asv's Mann-Whitney (two-sided, p < 0.002) can reject from 7 samples a side, not 6."""
    from asv._stats import is_different

    n = harness.SAMPLES_PER_ROUND * harness.ROUNDS
    # the most separated samples there can be: every one of b above every one of a
    a, b = [1.0 + i / 1000 for i in range(n)], [2.0 + i / 1000 for i in range(n)]
    stats = {"ci_99_a": 0.0, "ci_99_b": 10.0}  # overlapping intervals: asv's fallback never says different
    assert n >= 7 and is_different(a, b, stats, stats)  # asv's own test rejects at the suite's n
    assert is_different(a[:7], b[:7], stats, stats) and not is_different(a[:6], b[:6], stats, stats)
    assert all(cls.timeout for cls in LOAD_CLASSES)


@pytest.mark.parametrize(
    "args, reason",
    [
        (("all-MiniLM-L6-v2", "st-onnx", "warm"), "st-onnx needs onnxruntime, optimum.onnxruntime, not installed here: pip install"),
        (("all-MiniLM-L6-v2", "fastembed", "cold"), "fastembed needs fastembed, onnxruntime, not installed here: pip install"),
        (("no-such-model", "st-torch", "warm"), "model 'no-such-model' not found offline"),
    ],
)
def test_unavailable_combinations_skip_with_one_line_reason(args, reason, monkeypatch):
    monkeypatch.setattr(runtimes, "importable", lambda name: False)  # as in the main stack's env
    with pytest.raises(NotImplementedError) as err:
        bench_load.Stages().setup(None, *args)
    assert str(err.value).startswith(reason)
    assert "\n" not in str(err.value)


def test_the_classes_share_one_setup_cache():
    """asv keys setup_cache by its function: every class of a load reads the same rounds."""
    from asv_runner.benchmarks._base import get_setup_cache_key

    keys = {get_setup_cache_key(cls().setup_cache) for cls in LOAD_CLASSES}
    assert len(keys) == 1
    assert {get_setup_cache_key(cls().setup_cache) for cls in (bench_strategy.Strategy, bench_strategy.StrategyCost,
                                                               bench_strategy.ServiceMemory)} != keys


def _fake_rounds(monkeypatch, tmp_path):
    """harness with a fake probe: run i (from 1) gives import i, init 10 i, first_encode 100 i, total 111 i."""
    asked = []

    def run_probe(model, rt, cache, already_warm=False):
        assert already_warm == (len(asked) % harness.SAMPLES_PER_ROUND != 0)  # a round's first run warms the files
        asked.append((model.name, rt.name, cache))
        i = len(asked)
        return {"stages": {"import": {"seconds": i}, "init": {"seconds": 10 * i}, "first_encode": {"seconds": 100 * i},
                           "total": {"seconds": 111 * i}}, "i": i}

    monkeypatch.setattr(harness, "run_probe", run_probe)
    monkeypatch.setattr("embedload.measure.probe.probe_figure", lambda run, name: None if name == "vector_cosine" else run["i"] * 1000)
    monkeypatch.setattr(harness, "resolve", lambda model: types.SimpleNamespace(name=model))
    monkeypatch.setattr(harness, "measurable", lambda runtime, cache: types.SimpleNamespace(name=runtime))
    monkeypatch.setattr(harness, "MODELS", ("a", "b"))
    monkeypatch.setattr(harness, "RUNTIMES", ("st-torch",))
    monkeypatch.chdir(tmp_path)  # asv runs setup_cache and every benchmark in that folder
    return asked


def test_every_figure_of_a_round_comes_from_the_same_interpreters(tmp_path, monkeypatch):
    """setup_cache measures nothing; in each round the first figure asked measures SAMPLES_PER_ROUND
    interpreters and the others (each its own process: here a pickled copy) read the same ones."""
    import pickle

    asked = _fake_rounds(monkeypatch, tmp_path)
    samples = harness.load_samples()
    assert asked == []
    n = harness.SAMPLES_PER_ROUND

    def figure(cls, name):
        bench = cls()
        bench.key = harness.load_key("b", "st-torch", "cold")
        return getattr(bench, name)(pickle.loads(pickle.dumps(samples)), "b", "st-torch", "cold")

    for r in range(3):  # three of asv's rounds, each figure once a round
        imp = figure(bench_load.Stages, "track_import")
        assert len(asked) == n * (r + 1) and imp == {"samples": list(range(n * r + 1, n * r + n + 1)), "number": 1}
        assert figure(bench_load.Stages, "track_total")["samples"] == [111 * i for i in imp["samples"]]
        assert figure(bench_load.Memory, "track_peak_rss_total")["samples"] == [1000 * i for i in imp["samples"]]
        assert len(asked) == n * (r + 1)  # read, not measured again
    assert asked == [("b", "st-torch", "cold")] * 3 * n
    with pytest.raises(KeyError):
        samples.take("c|st-torch|warm", "import")  # not a combination of the suite's params


def test_a_figure_that_missed_rounds_returns_them_all(tmp_path, monkeypatch):
    """A figure asv ran in fewer rounds than another (e.g. without -a rounds) returns every round not yet
    returned, so no measured interpreter is lost."""
    _fake_rounds(monkeypatch, tmp_path)
    samples = harness.load_samples()
    key = harness.load_key("a", "st-torch", "warm")
    for _ in range(3):
        samples.take(key, "import")
    assert len(samples.take(key, "total")["samples"]) == 3 * harness.SAMPLES_PER_ROUND


def test_skips_and_failures_of_a_round(tmp_path, monkeypatch):
    from embedload.measure.probe import ProbeError

    for exc, raised, match in ((runtimes.NotAvailable("st-onnx is not installed"), NotImplementedError, "st-onnx"),
                               (ProbeError("probe of st-torch failed: boom", "stderr tail"), RuntimeError, "boom")):
        def measure(*params, exc=exc):
            raise exc

        (tmp_path / match).mkdir()
        monkeypatch.chdir(tmp_path / match)  # each asv run has a setup_cache folder of its own
        samples = harness.Samples({"k": ("a",)}, measure)
        with pytest.raises(raised, match=match):
            samples.take("k", "import")
        with pytest.raises(raised, match=match):  # every figure sees the same verdict, measured once
            samples.take("k", "total")
        assert len(samples.rounds("k")) == 1


def test_a_combination_is_checked_once_per_run_and_a_skip_is_kept(tmp_path, monkeypatch):
    """asv forks every figure from the same process: the first setup's check is kept in the setup_cache
    folder, and the other figures read it (a skip too, raised in each one's setup, as asv needs)."""
    import pickle

    monkeypatch.chdir(tmp_path)
    calls = []

    def check_load(model, runtime, cache):
        calls.append((model, runtime, cache))
        if runtime == "st-onnx":
            raise runtimes.NotAvailable("st-onnx needs onnxruntime")
        return {"reference": runtime == "st-torch"}

    monkeypatch.setattr(harness, "check_load", check_load)
    samples = harness.load_samples()
    for cls in LOAD_CLASSES[:3]:
        cls().setup(pickle.loads(pickle.dumps(samples)), "all-MiniLM-L6-v2", "st-torch", "warm")
    with pytest.raises(NotImplementedError, match="reference"):
        bench_load.Check().setup(pickle.loads(pickle.dumps(samples)), "all-MiniLM-L6-v2", "st-torch", "warm")
    for cls in LOAD_CLASSES:
        with pytest.raises(NotImplementedError, match="st-onnx needs onnxruntime"):
            cls().setup(pickle.loads(pickle.dumps(samples)), "all-MiniLM-L6-v2", "st-onnx", "warm")
    assert calls == [("all-MiniLM-L6-v2", "st-torch", "warm"), ("all-MiniLM-L6-v2", "st-onnx", "warm")]


def test_load_figures_are_the_ones_the_results_reader_knows():
    tracked = {f"bench_load.{cls.__name__}.{name}" for cls in LOAD_CLASSES for name in dir(cls) if name.startswith("track_")}
    assert tracked == set(PROBE_BENCHMARKS) | set(TIMING_BENCHMARKS)


def test_check_skips_the_reference_runtime_in_setup():
    bench = bench_load.Check()
    with pytest.raises(NotImplementedError, match="reference"):  # in setup: asv shows a skip
        bench.setup(None, "all-MiniLM-L6-v2", "st-torch", "warm")


SPREAD_SUITE = textwrap.dedent("""
    import os
    from embedload.suite import harness
    from embedload.suite import classes as suite

    def _round(model, runtime, cache):
        with open(os.environ["ROUNDS_LOG"], "a") as f:
            f.write(cache + "\\n")
        done = sum(1 for _ in open(os.environ["ROUNDS_LOG"]))
        return [{"import": done * 10 + i, "init": 1, "first_encode": 1, "total": done * 10 + i + 0.5}
                for i in range(harness.SAMPLES_PER_ROUND)]

    def samples():
        return harness.Samples({f"m|r|{c}": ("m", "r", c) for c in ("warm", "cold")}, _round)

    class Stages(suite.Stages):
        params = (["m"], ["r"], ["warm", "cold"])
        setup_cache = staticmethod(samples)

        def setup(self, samples, model, runtime, cache):
            self.key = f"{model}|{runtime}|{cache}"
""")


@pytest.mark.slow
@pytest.mark.parametrize("launch", ["spawn", "forkserver"])
def test_asv_spreads_the_rounds_over_time_and_keeps_every_sample(tmp_path, launch):
    """Real asv, -a rounds=3: each combination is measured once a round, the rounds of the two
    combinations alternate in time, and each figure keeps 3 x SAMPLES_PER_ROUND samples, sample i of
    every figure from the same interpreter; whether asv starts each figure as a new interpreter
    (spawn, its default) or as a fork (forkserver, embedload's asv.conf.json)."""
    from foreign_suite import ForeignSuite

    suite = ForeignSuite(tmp_path / "app")
    (suite.root / "benchmarks" / "bench_foreign.py").write_text(SPREAD_SUITE)
    log = tmp_path / "rounds.log"
    out = suite.asv("run", "--machine", suite.machine, "-E", f"existing:{sys.executable}", "--set-commit-hash",
                    suite.commits[-1], "--record-samples", "-a", "rounds=3", "--launch-method", launch,
                    ROUNDS_LOG=str(log))
    assert out.returncode == 0, out.stdout + out.stderr
    assert log.read_text().split() == ["warm", "cold"] * 3  # asv's params in order, once a round each
    (path,) = [p for p in (suite.root / "results" / suite.machine).glob("*.json") if p.name != "machine.json"]
    data = json.loads(path.read_text())
    column = data["result_columns"].index("samples")
    got = {name: data["results"][name][column] for name in ("bench_foreign.Stages.track_import",
                                                              "bench_foreign.Stages.track_total")}
    imp, total = got["bench_foreign.Stages.track_import"], got["bench_foreign.Stages.track_total"]
    assert [len(s) for s in imp] == [3 * harness.SAMPLES_PER_ROUND] * 2
    assert [[t - 0.5 for t in s] for s in total] == imp  # sample i of both from the same interpreter


def test_stage_setup_holds_the_earlier_stages():
    rt = runtimes.get_runtime("st-torch")
    stmt, setup = runtimes.timeraw_source(rt, "first_encode", "/m", "cpu")
    assert stmt == rt.encode_code
    assert rt.import_code in setup and rt.init_code in setup and "gc.enable()" in setup
    stmt, setup = runtimes.timeraw_source(rt, "total", "/m", "cpu")
    assert stmt.splitlines() == [rt.import_code, rt.init_code, rt.encode_code]
    assert rt.import_code not in setup
    with pytest.raises(ValueError, match="unknown stage"):
        runtimes.timeraw_source(rt, "warmup", "/m", "cpu")


def test_device_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("EMBEDLOAD_DEVICE", raising=False)
    assert runtimes.device_from_env() == "cpu"
    monkeypatch.setenv("EMBEDLOAD_DEVICE", "cuda:1")
    assert runtimes.device_from_env() == "cuda:1"
    monkeypatch.setenv("EMBEDLOAD_DEVICE", "gpu")
    with pytest.raises(ValueError, match="EMBEDLOAD_DEVICE='gpu'"):
        runtimes.device_from_env()


@pytest.mark.parametrize("stage", ["init", "total"])
@pytest.mark.slow
def test_timeraw_source_runs_in_asv_runners_timer(tiny_model, stage):
    """The (stmt, setup) pair goes through asv_runner's own separate-process timer."""
    from asv_runner.benchmarks.timeraw import _SeparateProcessTimer

    rt = runtimes.get_runtime("st-torch")
    model = resolve_model(str(tiny_model))
    source = runtimes.timeraw_source(rt, stage, model.path.as_posix(), "cpu")
    seconds = _SeparateProcessTimer(lambda: source, env=OFFLINE_ENV).timeit(number=1)
    assert 0 < seconds < 120
    if stage == "total":
        assert seconds > 0.5  # includes importing torch


def test_a_samples_interpreter_skips_its_teardown_and_still_fails_on_an_exception(tmp_path):
    """runtimes.QUICK_EXIT: the figure is printed and the atexit handlers run, the teardown (freeing
    torch and the model) does not; an exception in the sample still fails it. Told by what ran, not
    by the clock: an object freed at teardown leaves a mark, and only without QUICK_EXIT."""
    from asv_runner.benchmarks.timeraw import _SeparateProcessTimer

    marker, freed = tmp_path / "atexit-ran", tmp_path / "teardown-ran"
    teardown = ("import atexit, sys\n"
                f"atexit.register(lambda: open({str(marker)!r}, 'w').write('x'))\n"
                "class _Freed:\n"
                f"    def __del__(self, path={str(freed)!r}, open=open):\n"
                "        open(path, 'w').write('x')\n"
                "sys._el_freed = _Freed()")
    for setup, torn_down in ((teardown, True), (runtimes.QUICK_EXIT + "\n" + teardown, False)):
        marker.unlink(missing_ok=True)
        freed.unlink(missing_ok=True)
        seconds = _SeparateProcessTimer(lambda: ("x = 1", setup)).timeit(number=1)  # noqa: B023
        assert seconds >= 0
        assert marker.read_text() == "x"
        assert freed.exists() == torn_down, setup
    with pytest.raises(RuntimeError, match=r"(?s)Subprocess failed.*RuntimeError: not cold"):
        _SeparateProcessTimer(lambda: ("raise RuntimeError('not cold')", runtimes.QUICK_EXIT)).timeit(number=1)


@pytest.mark.slow
def test_asv_check_passes():
    out = subprocess.run(
        [sys.executable, "-m", "asv", "check", "-E", f"existing:{sys.executable}"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No problems found" in out.stdout


@pytest.mark.parametrize("conf", ["asv.conf.json", "asv.runtimes.conf.json"])
def test_asv_forks_each_figure_and_installs_a_commit_with_one_pip(conf):
    """A round's figures other than the first only read its samples: each is a fork of the process that
    imported the suite, not a new interpreter; a switch of commit runs one pip, not an uninstall too."""
    from asv.config import Config

    config = Config.load(str(REPO / conf))
    assert config.launch_method == "forkserver"
    assert config.uninstall_command == []
    assert config.install_command == ["in-dir={env_dir} python -m pip install --no-deps --force-reinstall {wheel_file}"]


@pytest.mark.parametrize("conf", ["asv.conf.json", "asv.runtimes.conf.json"])
def test_asv_environment_names_fit_in_a_file_name(conf):
    """asv saves results as <commit8>-<env name>.json; a file name has at most 255 bytes."""
    from asv import environment
    from asv.config import Config

    config = Config.load(str(Path(__file__).resolve().parent.parent / conf))
    envs = list(environment.get_environments(config, [], verbose=False))
    assert envs
    for env in envs:
        assert len(f"01234567-{env.name}.json".encode()) <= 255


def _suite_names():
    """Every benchmark/param name of the suite, as asv matches a --bench regex against it."""
    import inspect
    import itertools

    return [f"{mod.__name__.split('.')[-1]}.{cls.__name__}.{fn}({', '.join(map(repr, ps))})"
            for mod in (bench_load, bench_strategy)
            for cls in vars(mod).values() if inspect.isclass(cls) and cls.__module__ == mod.__name__
            for fn in dir(cls) if fn.startswith("track_")
            for ps in itertools.product(*cls.params)]


def test_make_gate_selects_the_default_models_st_torch_figures_and_nothing_it_would_skip():
    """asv runs each selected combination every round, a skipped one too: the default BENCH names
    only what this environment measures (st-torch) and the gate judges."""
    line = next(ln for ln in (REPO / "Makefile").read_text().splitlines() if ln.startswith("BENCH "))
    regex = line.split("?=", 1)[1].strip()
    selected = {n for n in _suite_names() if re.search(regex, n)}
    expected = {f"bench_load.Stages.track_{s}('all-MiniLM-L6-v2', 'st-torch', '{c}')" for c in CACHES
                for s in ("import", "total")}
    expected |= {f"bench_load.Memory.{fn}('all-MiniLM-L6-v2', 'st-torch', '{c}')" for c in CACHES
                 for fn in dir(bench_load.Memory) if fn.startswith("track_")}
    assert selected == expected


@pytest.mark.parametrize("target, prefix, models", [
    ("bench", ("bench_load.",), MODELS[:2]),
    ("bench-models", ("bench_load.",), MODELS),
    ("bench-strategies", ("bench_strategy.",), MODELS),
])
def test_make_bench_targets_select_their_st_torch_combinations_only(target, prefix, models):
    """The .venv has st-torch's stack only: make bench's runs select no combination of another runtime
    (each would be a skipped run in every round), and every st-torch one of their benchmarks."""
    dry = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True).stdout
    (run,) = [shlex.split(ln) for ln in dry.splitlines() if re.search(r"(^|/)asv run ", ln)]
    regex = run[run.index("--bench") + 1]
    names = _suite_names()
    selected = {n for n in names if re.search(regex, n)}
    expected = {n for n in names if n.startswith(prefix) and "'st-torch'" in n and any(f"('{m}'" in n for m in models)}
    assert selected == expected and expected
    assert not any("'st-onnx'" in n or "'fastembed'" in n for n in selected)

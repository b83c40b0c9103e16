"""The load strategies: each one's source runs, its figures are what they say, the service leaves nothing."""

import json
import os
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from embedload.commands import cli
from embedload.judge.gate import evaluate
from embedload.measure import strategies
from embedload.measure import strategy_runner as startup
from embedload.measure.runtimes import NotAvailable, bindings, get_runtime
from embedload.models.registry import resolve_model
from embedload.render.gate_report import render_json, render_markdown, render_text
from embedload.results.asv_results import Measurement
from embedload.results.load_rows import strategy_rows


@pytest.fixture
def tiny(tiny_model, empty_config):
    return resolve_model(str(tiny_model))


def _children_of_us():
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.slow
def test_the_service_answers_with_the_models_vector_and_is_removed(tiny):
    rt = get_runtime("st-torch")
    with startup.running_service(rt, str(tiny.path), "cpu") as service:
        st = strategies.STRATEGIES["service"]
        script = "\n".join([bindings(str(tiny.path), "cpu"), strategies.service_bindings(service.socket_path),
                             st.code("first_vector", rt), "import json; print(json.dumps(list(vector)))"])
        got = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                        check=True).stdout)
        workdir, pid = service.workdir, service.process.pid
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from embedload.measure.runtimes import SENTENCE

    expected = SentenceTransformer(str(tiny.path), device="cpu").encode(SENTENCE)
    assert np.allclose(got, expected, atol=1e-5)
    assert not os.path.exists(workdir) and not psutil.pid_exists(pid)


@pytest.mark.slow
def test_the_service_ends_when_the_process_that_started_it_dies(tiny):
    script = textwrap.dedent(f"""
        import os
        from embedload.measure import strategy_runner as startup
        from embedload.measure.runtimes import get_runtime
        s = startup.start_service(get_runtime("st-torch"), {str(tiny.path)!r}, "cpu")
        print(s.process.pid, s.workdir, flush=True)
        os._exit(0)  # no cleanup: as if killed
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=dict(os.environ, HF_HUB_OFFLINE="1")).stdout.split()
    pid, workdir = int(out[0]), out[1]
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not os.path.exists(workdir)


@pytest.mark.slow
def test_a_users_strategy_plugs_in_as_module_callable(tiny, tmp_path, monkeypatch):
    (tmp_path / "myapp_start.py").write_text(textwrap.dedent("""
        import time

        class App:  # loads on first use; a stand-in model that takes 0.3 s to load
            def __init__(self, path, device):
                self.path, self.model = path, None
            def encode(self, text):
                if self.model is None:
                    time.sleep(0.3)
                    self.model = len(self.path)
                return [float(self.model)] * 4

        def begin(path, device):
            return App(path, device)
    """))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    figures = startup.run_strategy(tiny, "st-torch", "warm", "myapp_start:begin")
    assert figures["ready"] < 0.3 <= figures["first_vector"] < 5


def test_strategy_checks_say_why_in_one_line():
    with pytest.raises(NotAvailable, match="cold page cache does not apply"):
        startup.check_strategy("service", "cold")
    with pytest.raises(NotAvailable, match="unknown strategy 'eagre'; expected one of eager, lazy"):
        startup.check_strategy("eagre", "warm")
    assert strategies.STRATEGY_NAMES == ("eager", "lazy", "background", "service")


def _strategy_measurements():
    def timing(strategy, figure, samples):
        return Measurement(f"bench_strategy.Strategy.track_{figure}",
                           {"model": "m", "runtime": "st-torch", "cache": "warm", "strategy": strategy},
                           sorted(samples)[len(samples) // 2], "seconds", "ok", samples=samples)

    def track(strategy, name, value, unit):
        cls = "ServiceMemory" if name == "server_rss" else "StrategyCost"
        return Measurement(f"bench_strategy.{cls}.track_{name}",
                           {"model": "m", "runtime": "st-torch", "cache": "warm", "strategy": strategy}, value, unit, "ok")

    return [
        timing("eager", "ready", [6.9, 7.0, 7.1]), timing("eager", "first_vector", [6.95, 7.05, 7.15]),
        timing("service", "ready", [0.005, 0.006, 0.007]), timing("service", "first_vector", [0.02, 0.03, 0.04]),
        timing("background", "ready", [0.001, 0.001, 0.002]), timing("background", "first_vector", [6.1, 6.2, 6.3]),
        track("eager", "app_peak_rss", 515e6, "bytes"), track("service", "app_peak_rss", 11e6, "bytes"),
        track("service", "server_rss", 520e6, "bytes"), track("background", "foreground_slowdown", 1.46, "ratio"),
        track("eager", "foreground_slowdown", 1.01, "ratio"),
    ]


def test_strategy_rows_reach_every_format_and_the_recommendations(empty_config):
    from embedload.base.config import load_config

    ms = _strategy_measurements()
    rows = strategy_rows(ms)
    assert [r.strategy for r in rows] == ["background", "eager", "service"]
    report = evaluate(ms, config=load_config(), commit="c" * 40, machine="here")
    recs = "\n".join(report.recommendations)
    assert "service: first vector 30 ms after start against 7.05 s eager" in recs
    assert "11 MB per client process plus the server's 520 MB once, against 515 MB per process eager" in recs
    assert "the foreground task ran 1.46× slower while the model loaded beside it" in recs
    assert "eager: first vector" not in recs  # eager is the reference, not compared with itself
    assert "🚦 Load strategies" in render_text(report) and "### Load strategies" in render_markdown(report)
    doc = json.loads(render_json(report))
    service = next(r for r in doc["strategies"] if r["strategy"] == "service")
    assert service["timings"]["first_vector"]["median"] == 0.03 and service["figures"]["server_rss"] == 520e6


@pytest.mark.slow
def test_profile_every_strategy_cli(tiny_model, empty_config, capsys):
    """Each built-in strategy through the public path (one start-up each): ready before the first vector,
    nothing heavy before ready but for eager, the figures in the report."""
    before = _children_of_us()
    code = cli.main(["profile", "--model", str(tiny_model), "--strategy", "all", "--runs", "1", "--format", "json"])
    assert code == 0
    assert _children_of_us() == before  # the model server and every child are gone
    doc = json.loads(capsys.readouterr().out)
    # on a loaded machine the verdict goes on to say so ("measured on a disturbed machine ..."): that is not a failure
    assert doc["verdict"].startswith("REPORT: 4 load strategy row(s) measured, nothing gated"), doc["verdict"]
    rows = {r["strategy"]: r for r in doc["strategies"]}
    assert sorted(rows) == ["background", "eager", "lazy", "service"]
    for name, row in rows.items():
        ready, first = row["timings"]["ready"]["median"], row["timings"]["first_vector"]["median"]
        assert 0 <= ready <= first and row["figures"]["foreground_slowdown"] > 0, name
        assert ("server_rss" in row["figures"]) == (name == "service")
    assert rows["eager"]["timings"]["ready"]["median"] > 1.0  # the import of sentence-transformers
    service = rows["service"]["figures"]
    assert service["server_rss"] > service["app_peak_rss"] > 0  # the model lives in the server, not the client
    for name in ("lazy", "background", "service"):  # ready long before the import would be: a 10x margin
        assert rows[name]["timings"]["ready"]["median"] * 10 < rows["eager"]["timings"]["ready"]["median"], name
    assert cli.main(["profile", "--strategy", "eager", "--save-runs", "x.json"]) == 2
    assert "--strategy cannot be combined with --save-runs" in capsys.readouterr().err
    assert cli.main(["profile", "--strategy", "nope"]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("runtime", ["st-torch", "fastembed"])
def test_strategy_sources_compile(runtime):
    rt = get_runtime(runtime)
    for st in strategies.STRATEGIES.values():
        for kind, source in startup.child_sources(st, rt, "/m", "cpu", "/s", "", "/r.json").items():
            compile(source, f"{st.name} {kind}", "exec")


@pytest.mark.slow
def test_a_strategy_round_gives_every_figure_from_the_same_runs_or_a_reason(tiny_model, empty_config, monkeypatch,
                                                                           tmp_path):
    """What the track_ benchmarks read: a round of runs per measurable combination (the service started
    for the round and stopped after it), a one-line reason otherwise."""
    from benchmarks import bench_strategy
    from embedload.suite import harness

    monkeypatch.chdir(tmp_path)  # asv's setup_cache folder, where each combination's rounds are kept
    for name, value in (("STRATEGY_MODELS", (str(tiny_model),)), ("RUNTIMES", ("st-torch", "st-onnx")),
                        ("CACHES", ("warm", "cold")), ("STRATEGIES_PARAM", ("service",))):
        monkeypatch.setattr(harness, name, value)
    monkeypatch.setattr(harness, "PYPROJECT", None)
    monkeypatch.setattr("embedload.measure.runtimes.importable", lambda module: module not in ("onnxruntime", "optimum.onnxruntime"))
    before = _children_of_us()
    samples = harness.strategy_samples()
    key = harness.strategy_key(str(tiny_model), "st-torch", "warm", "service")
    ready = samples.take(key, "ready")["samples"]
    rss, server = samples.take(key, "app_peak_rss")["samples"], samples.take(key, "server_rss")["samples"]
    assert len(ready) == len(rss) == len(server) == harness.SAMPLES_PER_ROUND and len(samples.rounds(key)) == 1
    assert all(s > a > 0 for s, a in zip(server, rss))
    assert _children_of_us() <= before  # the round's service is stopped
    with pytest.raises(NotImplementedError, match="cold page cache does not apply"):
        bench_strategy.Strategy().setup(samples, str(tiny_model), "st-torch", "cold", "service")
    with pytest.raises(NotImplementedError, match="st-onnx needs onnxruntime"):
        bench_strategy.Strategy().setup(samples, str(tiny_model), "st-onnx", "warm", "service")
    with pytest.raises(NotImplementedError, match="runs no model server"):
        bench_strategy.ServiceMemory().setup(samples, str(tiny_model), "st-torch", "warm", "eager")

"""Faults and bad input: no orphan process, no lost measurement, no traceback (docs/reliability.md)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from embedload.base.children import child_environ
from embedload.base.files import write_new_file
from embedload.measure import build_runtime_folders as prepare_mod
from embedload.measure.probe import ProbeError, run_probe
from embedload.measure.runtimes import loader_runtime
from embedload.models.registry import resolve_model

HANG = """
import subprocess, time
def load(path, device):
    subprocess.Popen(["sleep", "{marker}"])
    time.sleep(600)
"""


def _marker_procs(marker):
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if marker in (p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found


def _wait_for(predicate, seconds=60.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def sandbox(tmp_path, tiny_model):
    """A loader folder, a private TMPDIR and the env for an `embedload` subprocess."""
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TMPDIR=str(tmp_path / "tmp"), EMBEDLOAD_CONFIG=str(tmp_path / "pyproject.toml"))
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return tmp_path, env


def _default_sigint():
    # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT: the
    # test must see embedload as a terminal would start it, whatever runs the tests.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _embedload(args, env, cwd, **kw):
    return subprocess.Popen([sys.executable, "-m", "embedload", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint, **kw)


def _hanging_loader(tmp_path, name):
    marker = f"{300 + (hash(name) % 1000) / 1000:.3f}"
    (tmp_path / f"{name}.py").write_text(HANG.format(marker=marker))
    return marker


def _no_leftovers(tmp_path, marker):
    assert _wait_for(lambda: not _marker_procs(marker), 15), "a process of the run survived it"
    assert _wait_for(lambda: not list((tmp_path / "tmp").glob("embedload-*")), 15), list((tmp_path / "tmp").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("how", ["timeout", "SIGTERM", "SIGINT", "parent killed"])
def test_no_process_of_the_run_survives_it(sandbox, tiny_model, how):
    tmp_path, env = sandbox
    name = "hang_" + how.replace(" ", "_")
    marker = _hanging_loader(tmp_path, name)
    proc = _embedload(["profile", "--model", str(tiny_model), "--loader", f"{name}:load", "--runs", "1",
                       "--timeout", "8" if how == "timeout" else "300"], env, tmp_path)
    try:
        assert _wait_for(lambda: _marker_procs(marker), 90), "the loader never started its subprocess"
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        elif how == "SIGINT":
            proc.send_signal(signal.SIGINT)
        elif how == "parent killed":
            proc.kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    expected = {"timeout": 2, "SIGTERM": 143, "SIGINT": 130, "parent killed": -9}[how]
    assert proc.returncode == expected, err
    if how == "timeout":
        assert "timed out after 8 s (its whole process group was ended)" in err and "Traceback" not in err
    _no_leftovers(tmp_path, marker)


@pytest.mark.slow
def test_the_cold_path_honours_timeout(sandbox, tiny_model):
    tmp_path, env = sandbox
    marker = _hanging_loader(tmp_path, "hang_cold")
    start = time.monotonic()
    proc = _embedload(["profile", "--model", str(tiny_model), "--loader", "hang_cold:load", "--runs", "1",
                       "--cold-start", "--timeout", "5"], env, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "took longer than 5 s" in err and "Traceback" not in err, err
    assert time.monotonic() - start < 60
    _no_leftovers(tmp_path, marker)


@pytest.mark.parametrize("output, expected", [
    ("missing/dir/out.json", "folder missing/dir does not exist"),
    (".", "is a directory"),
    ("/proc/out.json", "/proc/out.json cannot be written"),
])
def test_outputs_are_checked_before_any_measurement(sandbox, output, expected):
    tmp_path, env = sandbox
    proc = _embedload(["profile", "--runs", "1", "--output", output], env, tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and expected in err, err
    assert "[1/1]" not in err and "Traceback" not in err  # nothing was measured, so nothing was lost


@pytest.mark.slow
def test_runs_are_kept_when_the_output_appears_meanwhile(sandbox, tiny_model, monkeypatch, capsys):
    from embedload.commands import cli, profile

    tmp_path, env = sandbox
    target = tmp_path / "runs.json"
    real = profile.profile_runs

    def runs_then_someone_writes(*a, **kw):
        runs = real(*a, **kw)
        target.write_text("someone else's")
        return runs

    monkeypatch.setattr(profile, "profile_runs", runs_then_someone_writes)
    code = cli.main(["profile", "--model", str(tiny_model), "--runs", "1", "--save-runs", str(target)])
    err = capsys.readouterr().err
    kept = Path(err.split("are kept in ")[1].split()[0]) if "are kept in " in err else None
    try:
        assert code == 2 and f"{target} already exists" in err
        assert kept is not None and '"runs"' in kept.read_text() and target.read_text() == "someone else's"
    finally:
        if kept is not None and kept.exists():
            kept.unlink()


def test_output_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_new_file(tmp_path / "gate.xml", "<x/>")
    finally:
        os.umask(old)
    assert (tmp_path / "gate.xml").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("args, env_extra, pyproject, expected", [
    (["probe"], {"EMBEDLOAD_DEVICE": "bogus"}, None, "EMBEDLOAD_DEVICE='bogus' is not a device"),
    (["prepare", "--python", "/nonexistent"], {}, None, "argument --python: /nonexistent is not an executable file"),
    (["imports", "--python", "/nonexistent"], {}, None, "argument --python: /nonexistent is not an executable file"),
    (["models"], {}, "tool = 1\n", "'tool' must be a table"),
    (["models"], {}, b"[tool.embedload]\nloader = '\xff\xfe'\n", "is not UTF-8 text"),
    (["probe", "--timeout", "nan"], {}, None, "--timeout is a number of seconds above 0"),
    (["probe", "--timeout", "0"], {}, None, "--timeout is a number of seconds above 0"),
    (["probe", "--timeout", "-5"], {}, None, "--timeout is a number of seconds above 0"),
    (["profile", "--cold-start", "--drop-caches", "--loader", "no_such_module_xyz:load"], {}, None,
     "loader module 'no_such_module_xyz' is not importable here"),
])
@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2(sandbox, args, env_extra, pyproject, expected):
    tmp_path, env = sandbox
    if pyproject is not None:
        path = tmp_path / "pyproject.toml"
        path.write_bytes(pyproject if isinstance(pyproject, bytes) else pyproject.encode())
    proc = _embedload(args, {**env, **env_extra}, tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and expected in err and "Traceback" not in err, err


@pytest.mark.slow
@pytest.mark.parametrize("body, expected", [
    ("import os\ndef load(path, device):\n    os._exit(0)\n", "without writing its result"),
    ("import ctypes\ndef load(path, device):\n    ctypes.string_at(0)\n", "killed by SIGSEGV"),
])
def test_failure_headlines_say_what_happened(sandbox, tiny_model, body, expected):
    tmp_path, env = sandbox
    (tmp_path / "bad_loader.py").write_text(body)
    proc = _embedload(["probe", "--model", str(tiny_model), "--loader", "bad_loader:load"], env, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and expected in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_truncated_weights_file_is_named_before_the_child_starts(tiny_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (weights,) = broken.rglob("model.safetensors")
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ProbeError) as err:
        run_probe(resolve_model(str(tiny_model)).__class__("broken", broken, "path"), "st-torch", "cold")
    assert f"model file {weights} is broken" in str(err.value) and "truncated" in str(err.value)


def test_children_get_an_allow_listed_environment(monkeypatch):
    source = {"PATH": "/bin", "HOME": "/root", "HF_TOKEN": "secret", "AWS_SECRET_ACCESS_KEY": "secret",
              "PYTHONPATH": "/x", "LC_ALL": "C", "EMBEDLOAD_DEVICE": "cpu", "MY_SETTING": "1",
              "EMBEDLOAD_PASS_ENV": "MY_SETTING"}
    env = child_environ(source=source)
    assert "HF_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PYTHONPATH"] == "/x" and env["LC_ALL"] == "C" and env["MY_SETTING"] == "1"
    assert env["HF_HUB_OFFLINE"] == "1"


@pytest.mark.slow
def test_the_measured_child_does_not_see_credentials(tiny_model, tmp_path, monkeypatch):
    (tmp_path / "env_loader.py").write_text(
        "import os\nassert 'HF_TOKEN' not in os.environ, 'leaked'\nassert os.environ['MINE'] == 'yes'\n"
        "from sentence_transformers import SentenceTransformer\n"
        "def load(path, device):\n    return SentenceTransformer(path, device=device)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("MINE", "yes")
    monkeypatch.setenv("EMBEDLOAD_PASS_ENV", "MINE")
    result = run_probe(resolve_model(str(tiny_model)), loader_runtime("env_loader:load"))
    assert result["vector"]


@pytest.mark.slow
def test_two_prepares_of_one_folder_do_not_race(tmp_path, monkeypatch):
    """The second waits for the first (a lock), then finds its folder instead of renaming over it."""
    from embedload.measure.runtimes import Runtime
    from embedload.models.registry import ResolvedModel

    monkeypatch.setenv("EMBEDLOAD_PREPARED", str(tmp_path / "prepared"))
    rt = Runtime("st-onnx", "test", import_code="", init_code="", encode_code="", prepare_code="x")
    monkeypatch.setattr(prepare_mod, "get_runtime", lambda name: rt)
    monkeypatch.setattr(prepare_mod, "check_measurable", lambda *a, **k: rt)
    inside, overlaps, made = [], [], []

    def fake_locked(model, runtime, final, python, force, timeout, progress):
        inside.append(1)
        overlaps.append(len(inside))
        time.sleep(0.3)
        if not final.exists():
            final.mkdir(parents=True)
            made.append(1)
        inside.pop()
        return {"folder": str(final)}

    monkeypatch.setattr(prepare_mod, "_prepare_locked", fake_locked)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    model = ResolvedModel("m", tmp_path / "model", "path")
    threads = [threading.Thread(target=prepare_mod.prepare, args=(model, "st-onnx")) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1, 1] and made == [1]


@pytest.mark.slow
def test_a_blocked_pickle_says_what_to_do(tiny_model, tmp_path):
    import pickle
    import shutil

    class Hostile:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    broken = tmp_path / "pickled"
    shutil.copytree(tiny_model, broken)
    (weights,) = broken.rglob("model.safetensors")
    weights.unlink()
    (weights.parent / "pytorch_model.bin").write_bytes(pickle.dumps({"x": Hostile()}))
    with pytest.raises(ProbeError) as err:
        run_probe(resolve_model(str(broken)), "st-torch")
    assert "refused by torch.load(weights_only=True)" in str(err.value) and "safetensors" in str(err.value)
    assert not (tmp_path / "pwned").exists()

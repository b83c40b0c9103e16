"""Rootless eviction: residency drops to ~0 and is measured, cold runs are verified."""

import os
import subprocess
import sys

import pytest

from embedload.measure import pagecache, pages
from embedload.measure.probe import run_probe
from embedload.models.registry import resolve_model


def _warm(paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


def _fadvise_works(folder):
    probe = folder / "fadvise-probe.bin"
    probe.write_bytes(os.urandom(1 << 20))
    os.sync()
    _warm([probe])
    before = pages.residency([str(probe)])["fraction"]
    pages.evict([str(probe)])
    after = pages.residency([str(probe)])["fraction"]
    probe.unlink()
    return before > 0.5 and after < 0.1


def test_evicting_a_model_folder_drops_its_residency(tiny_model, tmp_path):
    if not _fadvise_works(tiny_model.parent):
        pytest.skip(f"the filesystem under {tiny_model.parent} ignores posix_fadvise(DONTNEED) (e.g. tmpfs)")
    files = pagecache.model_files(str(tiny_model))
    assert len(files) >= 5
    _warm(files)
    warm = pages.residency(files)
    assert warm["fraction"] > 0.9 and warm["total_bytes"] > 10_000
    pages.evict(files)
    cold = pages.residency(files)
    assert cold["fraction"] <= 0.01
    assert cold["total_bytes"] == warm["total_bytes"] and cold["files"] == len(files)


def test_reading_in_makes_evicted_files_resident_again(tiny_model):
    """What ``cache=warm`` rests on: after read_into_cache (announced, then read), every byte is resident."""
    if not _fadvise_works(tiny_model.parent):
        pytest.skip(f"the filesystem under {tiny_model.parent} ignores posix_fadvise(DONTNEED) (e.g. tmpfs)")
    files = pagecache.model_files(str(tiny_model))
    pages.evict(files)
    assert pages.residency(files)["fraction"] <= 0.01
    pages.read_into_cache(files + [str(tiny_model / "gone")])  # a missing file is passed over
    assert pages.residency(files)["fraction"] > 0.99


def test_the_eviction_helper_loads_only_the_standard_library_and_its_own_modules():
    """The helper starts inside every cold sample: it must not pull in the suite's configuration or runtimes."""
    code = ("import sys; before = set(sys.modules); import embedload.measure.evict; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    new = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    loaded = [m for m in new if m.startswith("embedload")]
    assert loaded == ["embedload", "embedload.base", "embedload.base.reasons", "embedload.measure",
                      "embedload.measure.evict", "embedload.measure.pages"]
    others = {m.split(".")[0] for m in new if not m.startswith("embedload")}
    assert others and others <= set(sys.stdlib_module_names), sorted(others - set(sys.stdlib_module_names))


def test_residency_of_missing_files_is_counted_not_crashing(tmp_path):
    found = pages.residency([str(tmp_path / "gone")])
    assert found["missing_files"] == 1 and found["total_bytes"] == 0


@pytest.mark.slow
def test_stage_files_come_from_the_import_itself(tiny_model):
    from embedload.measure.runtimes import get_runtime

    sets = pagecache.stage_files(get_runtime("st-torch"), tiny_model.as_posix(), "cpu")
    names = [os.path.basename(p) for p in sets["import"]]
    assert any(n.startswith("libtorch") for n in names)  # shared libraries, from the process maps
    assert any("sentence_transformers" in p for p in sets["import"])  # module files
    assert not any(p.startswith(str(tiny_model)) for p in sets["import"])
    assert set(pagecache.model_files(str(tiny_model))) <= set(sets["init"])
    assert set(sets["import"]) <= set(sets["total"]) and set(sets["init"]) <= set(sets["total"])
    # Files the import only reads (no module, no mapping): transformers reads dist-info metadata.
    assert any(p.endswith(".dist-info/METADATA") for p in sets["import"])
    # All of them from this interpreter's environment, not another one's (see the key test).
    site = [p for p in sets["import"] if "/site-packages/" in p]
    assert site and all(p.startswith(os.path.realpath(sys.prefix)) for p in site)


def test_stage_files_key_tells_virtualenvs_apart(tmp_path):
    """Two venvs' pythons are symlinks to one interpreter; their file lists must not be shared."""
    from embedload.measure.runtimes import get_runtime

    runtime = get_runtime("st-torch")
    keys = set()
    for env in ("env-a", "env-b"):
        (tmp_path / env / "bin").mkdir(parents=True)
        os.symlink(sys.executable, tmp_path / env / "bin" / "python")
        keys.add(pagecache.stage_files_key(str(tmp_path / env / "bin" / "python"), runtime, None, "cpu"))
    assert len(keys) == 2


@pytest.mark.slow
def test_cold_probe_records_residency(tiny_model):
    if not _fadvise_works(tiny_model.parent):
        pytest.skip("the filesystem ignores posix_fadvise(DONTNEED)")
    result = run_probe(resolve_model(str(tiny_model)), "st-torch", "cold")
    res = result["residency"]
    assert res["cold"] is True and res["fraction_outside_harness"] <= 0.01
    assert res["total_bytes"] > 100e6  # the torch stack, not only the tiny model
    assert result["cache"] == "cold"


HOLD = """
import mmap, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
total = sum(m[i] for i in range(0, len(m), mmap.PAGESIZE))  # fault every page in
print("held", flush=True)
time.sleep(60)
"""


def _pinned_file(tmp_path):
    big = tmp_path / "pinned.bin"
    big.write_bytes(os.urandom(8 << 20))
    return big


def test_a_file_another_process_holds_is_not_cold(tmp_path):
    """Mapped pages cannot be evicted: the helper must fail, so no cold number is recorded."""
    big = _pinned_file(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(big)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        listing = pagecache.write_file_list([str(big)])
        proc = subprocess.run([sys.executable, "-m", "embedload.measure.evict", "evict", listing, "--label", "pinned"],
                              capture_output=True, text=True)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 3
    assert "not cold:" in proc.stderr and "(pinned)" in proc.stderr


def test_a_file_the_harness_holds_is_reported_by_name(tmp_path):
    import mmap

    big = _pinned_file(tmp_path)
    with open(big, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as held:
        sum(held[i] for i in range(0, len(held), mmap.PAGESIZE))
        found = pages.evict_until_cold([str(big)])
    assert found["fraction"] > 0.9  # really resident, and said so
    assert found["harness_bytes"] > 7e6 and found["harness_files"] == [os.path.realpath(big)]
    assert found["fraction_outside_harness"] == 0 and found["cold"] is True

"""`embedload publish`: asv's dashboard offline, and the stage page, checked in headless Chromium.

The results are real: five commits of this repository measured by `make history N=5` on two asv
machines (tests/fixtures/dashboard, trimmed to the narrow benchmark set), published by asv
itself. The browser refuses every request that does not go to the local server.
"""

import contextlib
import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO

from embedload.base.config import Config
from embedload.render import dashboard
from embedload.results.asv_results import load_commit_results

FIXTURE = REPO / "tests" / "fixtures" / "dashboard"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO / "docs" / "img"


def _asv(*args, cwd):
    return subprocess.run([sys.executable, "-m", "asv", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The fixture's results, published by asv and then by embedload, in a scratch folder."""
    root = tmp_path_factory.mktemp("dashboard")
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(root / "repo")], check=True)
    commits = json.loads((FIXTURE / "commits.json").read_text())
    subprocess.run(["git", "-C", str(root / "repo"), "update-ref", "refs/heads/main", commits[-1]], check=True)
    shutil.copytree(FIXTURE / "results", root / "results")
    if (FIXTURE / "conditions").is_dir():
        shutil.copytree(FIXTURE / "conditions", root / "conditions")
    conf = dict(version=1, project="embedload", repo=str(root / "repo"), branches=["main"], dvcs="git",
                environment_type="virtualenv", results_dir="results", html_dir="html",
                benchmark_dir=str(REPO / "benchmarks"))
    (root / "asv.conf.json").write_text(json.dumps(conf))
    out = _asv("publish", cwd=root)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    done = dashboard.publish(root / "html", root / "results", Config(path=None))
    return root, commits, done


def test_asvs_cdn_tags_are_rewritten_to_checked_local_copies(published):
    root, _, done = published
    index = (root / "html" / "index.html").read_text()
    assert "https://code.jquery.com" not in index and "cdnjs" not in index and "cdn.jsdelivr" not in index
    assert len(done["vendored"]) == 10
    for entry in json.loads((REPO / "src" / "embedload" / "web" / "vendor.json").read_text()):
        local = root / "html" / dashboard.VENDOR_DIR / entry["file"]
        assert hashlib.sha256(local.read_bytes()).hexdigest() == entry["sha256"]
        assert f'src="{dashboard.VENDOR_DIR}/{entry["file"]}"' in index or f'href="{dashboard.VENDOR_DIR}/{entry["file"]}"' in index
    assert index.count(f'id="{dashboard.LINK_ID}"') == 1
    dashboard.make_offline(root / "html")  # a second run changes nothing
    dashboard.link_stage_page(root / "html")
    assert (root / "html" / "index.html").read_text() == index


def test_an_unknown_cdn_address_stops_with_its_name_and_changes_nothing(tmp_path):
    (tmp_path / "index.html").write_text('<html><script src="https://cdn.example/x.js"></script></html>')
    with pytest.raises(dashboard.PublishError, match="https://cdn.example/x.js, which embedload does not carry"):
        dashboard.make_offline(tmp_path)
    assert "cdn.example" in (tmp_path / "index.html").read_text()
    with pytest.raises(dashboard.PublishError, match="run `asv publish` first"):
        dashboard.make_offline(tmp_path / "nope")


def test_publish_without_asvs_pages_or_results_says_what_to_run(tmp_path, capsys):
    from embedload.commands.cli import main

    (tmp_path / "results").mkdir()
    assert main(["publish", "--results", str(tmp_path / "results"), "--html", str(tmp_path / "html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"embedload: error: html folder {tmp_path / 'html'} does not exist: run `asv publish` first"]
    (tmp_path / "html").mkdir()
    assert main(["publish", "--results", str(tmp_path / "results"), "--html", str(tmp_path / "html")]) == 2
    assert "no asv results in" in capsys.readouterr().err


def test_the_vendored_files_are_their_npm_packages_files():
    """tools/web/vendor.py --check: every file byte for byte its pinned package's (needs `npm ci` in tools/web)."""
    if not (REPO / "tools" / "web" / "node_modules" / "jquery").is_dir():
        pytest.fail("tools/web/node_modules is missing: run `make test` (it runs npm ci in tools/web)")
    out = subprocess.run([sys.executable, str(REPO / "tools" / "web" / "vendor.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_pages_data_are_the_results_medians_per_machine(published):
    root, commits, done = published
    data = dashboard.stage_data(root / "results", Config(path=None))
    assert set(data["machines"]) == set(json.loads((FIXTURE / "machines.json").read_text()))
    for machine, m in data["machines"].items():
        hashes = [c["hash"] for c in m["commits"]]
        assert set(hashes) <= set(commits) and len(hashes) >= 2
        row = m["rows"]["all-MiniLM-L6-v2 / st-torch / warm"]
        last = load_commit_results(root / "results", machine, hashes[-1]).measurements
        total = [x for x in last if x.benchmark == "bench_load.Stages.track_total"
                 and x.params.get("model") == "all-MiniLM-L6-v2" and x.params.get("cache") == "warm"][0]
        assert row["points"][len(hashes) - 1]["total"]["median"] == total.value
    assert done["machines"] == {m: len(d["commits"]) for m, d in data["machines"].items()}


def test_results_of_the_design_before_one_load_are_named_not_drawn(tmp_path):
    """A commit whose results carry the old design's names (bench_timing...): the page lists it as such and
    draws no point of it, so the old and the new figures are never joined into one line."""
    shutil.copytree(FIXTURE / "results", tmp_path / "results")
    machine = "vm"
    path = sorted((tmp_path / "results" / machine).glob("*-virtualenv-*.json"))[0]
    oldest = json.loads(path.read_text())
    hash_ = oldest["commit_hash"]
    for key in ("results", "benchmark_version"):  # the old design's names for the whole commit
        for now, before in (("bench_load.Stages.track_total", "bench_timing.Load.timeraw_total"),
                            ("bench_load.Stages.track_import", "bench_timing.Import.timeraw_import")):
            if now in oldest[key]:
                oldest[key][before] = oldest[key].pop(now)
    path.write_text(json.dumps(oldest))
    benchmarks = json.loads((tmp_path / "results" / "benchmarks.json").read_text())
    benchmarks["bench_timing.Load.timeraw_total"] = dict(benchmarks["bench_load.Stages.track_total"],
                                                         name="bench_timing.Load.timeraw_total", type="time")
    (tmp_path / "results" / "benchmarks.json").write_text(json.dumps(benchmarks))
    data = dashboard.stage_data(tmp_path / "results", Config(path=None))["machines"][machine]
    assert data["before_one_load"] == [hash_]
    index = [c["hash"] for c in data["commits"]].index(hash_)
    assert all(index not in row["points"] for row in data["rows"].values())
    assert any(row["points"] for row in data["rows"].values())  # the other commits are drawn
    assert 'id="before"' in dashboard.PAGE and "Before one load per sample" in dashboard.PAGE


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _served(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _browser(base: str):
    """Chromium with every request outside ``base`` refused; yields (page, problems)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r):
                if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                    r.continue_()
                else:
                    problems.append(f"refused request: {r.request.url}")
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            yield page, problems
        finally:
            browser.close()


@pytest.mark.slow
def test_asvs_graph_page_works_offline_with_five_points_and_our_parameters(published):
    root, commits, done = published
    machines = done["machines"]
    with _served(root / "html") as base, _browser(base) as (page, problems):
        page.goto(base + "/index.html")
        page.wait_for_selector("#summarygrid-display .benchmark-container, .benchmark-container", timeout=30_000)
        page.goto(base + "/index.html#bench_load.Stages.track_total")
        # asv loads one graph file per machine and redraws as each arrives: wait for every machine's lines
        page.wait_for_function("""machines => { const p = $('#main-graph').data('plot'); if (!p) return false;
            const parts = p.getData().flatMap(s => (s.label || '').split('; '));
            return machines.every(m => parts.includes('machine-' + m)); }""", arg=sorted(machines), timeout=30_000)
        points = page.evaluate("() => $('#main-graph').data('plot').getData()"
                               ".map(s => s.data.filter(d => d[1] !== null).length)")
        panel = page.inner_text("#graph-params, .graph-params, #navigation") if page.query_selector(
            "#graph-params, .graph-params, #navigation") else page.inner_text("body")
        page.screenshot(path=str(root / "asv-graph.png"))
    assert not problems, problems
    assert max(points) == len(commits) == 5, points
    params = json.loads((FIXTURE / "results" / "benchmarks.json").read_text())["bench_load.Stages.track_total"]["params"]
    for values in params:  # every model, runtime and cache state the suite declares
        for value in values:
            assert value.strip("'") in panel, value
    _keep_screenshot(root / "asv-graph.png", "asv-graph.png")


@pytest.mark.slow
def test_the_stage_page_draws_the_results_medians_offline(published):
    root, commits, _ = published
    data = dashboard.stage_data(root / "results", Config(path=None))
    with _served(root / "html") as base, _browser(base) as (page, problems):
        page.goto(base + "/embedload/index.html")
        page.wait_for_selector("body[data-ready='1']")
        machines = page.eval_on_selector_all("#machine option", "os => os.map(o => o.value)")
        assert sorted(machines) == sorted(data["machines"])
        for machine in machines:
            page.select_option("#machine", machine)
            for cache in ("warm", "cold"):
                if cache not in page.eval_on_selector_all("#cache option", "os => os.map(o => o.value)"):
                    continue
                page.select_option("#cache", cache)
                row = data["machines"][machine]["rows"][f"{page.input_value('#model')} / {page.input_value('#runtime')} / {cache}"]
                bars = page.eval_on_selector_all("#time-chart rect.bar", "rs => rs.map(r => [r.dataset.commit, r.dataset.stage, +r.dataset.median])")
                cells = page.eval_on_selector_all("#table td[data-median]", "ts => ts.map(t => [t.dataset.stage, +t.dataset.median])")
                expected = [(c["hash"][:8], s, p[s]["median"]) for i, c in enumerate(data["machines"][machine]["commits"])
                            if (p := row["points"].get(i) or row["points"].get(str(i))) for s in data["stages"] if s in p]
                assert sorted(map(tuple, bars)) == sorted(expected)
                assert {tuple(c) for c in cells} >= {(s, m) for _, s, m in expected}
                assert page.eval_on_selector_all("#time-chart g.total", "gs => gs.length") == len(row["points"])
        page.select_option("#machine", machines[0])
        page.select_option("#cache", "warm")
        page.screenshot(path=str(root / "stage-page.png"), full_page=True)
    assert not problems, problems
    _keep_screenshot(root / "stage-page.png", "stage-page.png")


@pytest.mark.slow
def test_the_stage_page_opens_from_file_too(published):
    root, _, _ = published
    with _browser("file://") as (page, problems):
        page.goto((root / "html" / "embedload" / "index.html").as_uri())
        page.wait_for_selector("body[data-ready='1']")
        assert page.eval_on_selector_all("#time-chart rect.bar", "rs => rs.length") > 0
    assert not problems, problems


def _keep_screenshot(made: Path, name: str) -> None:
    """docs/img holds the screenshots this test takes; EMBEDLOAD_SCREENSHOTS=1 refreshes them."""
    import os

    if os.environ.get("EMBEDLOAD_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(made, SCREENSHOTS / name)

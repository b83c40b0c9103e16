"""``embedload publish``: asv's dashboard made to work offline, and the stage-breakdown page beside it.

Run after ``asv publish``, on its ``html_dir``:

1. **Offline.** asv's ``index.html`` loads jQuery, flot, bootstrap and four small plugins from
   CDNs. Their files ship in this package (``web/vendor``, copied from their pinned npm packages
   by ``tools/web/vendor.py``, each with its sha256 in ``web/vendor.json``); each is checked
   against that hash, copied into ``<html_dir>/embedload-vendor/``, and asv's tag is rewritten to
   the local copy with an ``integrity`` of its own hash. A CDN address this package does not
   carry (another asv) stops the step with its name: nothing is half-rewritten.
2. **Stages.** ``<html_dir>/embedload/index.html``: one self-contained file (its data and its
   drawing code inline, SVG drawn by a few lines of plain JavaScript; nothing fetched, so it
   works from ``file://`` too): per machine and per model / runtime / cache, stacked import, init
   and first-encode medians per commit with the total's median and quartiles, the targets as
   lines, the gate's verdicts between consecutive commits, peak RSS per stage and RSS growth,
   and the latest commit's rows side by side. asv's index links to it.

Machines are never mixed: each has its own commits, rows and verdicts (the gate's ``compare``,
within one asv environment, as ``embedload gate`` judges).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from pathlib import Path

from embedload.base.catalog import PARTS, STAGES, TIMING_BENCHMARKS, before_one_load, catalog_name
from embedload.base.config import Config
from embedload.base.files import write_new_file
from embedload.judge.gate import DEFAULT_THRESHOLD, compare
from embedload.judge.targets import load_targets
from embedload.results.asv_results import ResultsError, list_machines, load_commit_results
from embedload.results.load_rows import LoadRow, rows_from_measurements

VENDOR_DIR = "embedload-vendor"
PAGE_DIR = "embedload"
LINK_ID = "embedload-stage-page"
#: The figures of a row the page shows, besides the stages' timings.
MEMORY = ("peak_rss_import", "peak_rss_init", "peak_rss_first_encode", "rss_growth")


class PublishError(Exception):
    """Why the html folder cannot be completed; one line, with what to do."""


def _vendor_manifest() -> list[dict]:
    return json.loads(resources.files("embedload").joinpath("web/vendor.json").read_text(encoding="utf-8"))


def _sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


_TAG = re.compile(r"<(script|link)\b[^>]*?(?:src|href)=\"(https?://[^\"]+)\"[^>]*>", re.S)


def make_offline(html_dir: Path) -> list[str]:
    """Serve asv's CDN scripts and styles from ``html_dir`` itself; the addresses replaced."""
    index = html_dir / "index.html"
    if not index.is_file():
        raise PublishError(f"{index} does not exist: run `asv publish` first (it writes html_dir)")
    text = index.read_text(encoding="utf-8")
    by_url = {e["url"]: e for e in _vendor_manifest()}
    unknown = sorted({url for _tag, url in _TAG.findall(text) if url not in by_url})
    if unknown:
        raise PublishError(f"{index} loads {', '.join(unknown)}, which embedload does not carry (another asv "
                           f"version?); nothing was changed. tools/web/vendor.py lists what it carries")
    vendor = resources.files("embedload").joinpath("web/vendor")
    out = html_dir / VENDOR_DIR
    replaced = []
    for url, entry in by_url.items():
        if url not in text:
            continue
        data = vendor.joinpath(entry["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise PublishError(f"the packaged {entry['file']} does not match its sha256 in vendor.json; "
                               f"reinstall embedload")
        target = out / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        replaced.append(url)

    def local(match: re.Match) -> str:
        tag, url = match.group(0), match.group(2)
        entry = by_url[url]
        tag = re.sub(r'\s(integrity|crossorigin|referrerpolicy)="[^"]*"', "", tag)
        tag = tag.replace(f'"{url}"', f'"{VENDOR_DIR}/{entry["file"]}"', 1)
        data = (out / entry["file"]).read_bytes()
        return tag.replace(("<script" if tag.startswith("<script") else "<link"),
                           ("<script" if tag.startswith("<script") else "<link") + f' integrity="{_sri(data)}"', 1)

    write_new_file(index, _TAG.sub(local, text), force=True)
    return replaced


def link_stage_page(html_dir: Path) -> None:
    """A link to the stage page in asv's index (once)."""
    index = html_dir / "index.html"
    text = index.read_text(encoding="utf-8")
    if f'id="{LINK_ID}"' in text:
        return
    link = (f'<a id="{LINK_ID}" href="{PAGE_DIR}/index.html" style="position:fixed;bottom:8px;right:12px;'
            f'z-index:1000;background:#fff;padding:4px 8px;border:1px solid #ccc;border-radius:4px">'
            f'Stage breakdown (embedload)</a>')
    if "</body>" not in text:
        raise PublishError(f"{index} has no </body>; is it asv's page?")
    write_new_file(index, text.replace("</body>", link + "\n</body>", 1), force=True)


def _commits(results_dir: Path, machine: str) -> list[tuple[str, int]]:
    """(commit hash, commit date in ms) of every results file of ``machine``, oldest first."""
    from asv.results import iter_results_for_machine

    seen: dict[str, int] = {}
    try:
        for result in iter_results_for_machine(str(results_dir), machine):
            seen[result.commit_hash] = result.date or 0
    except Exception as exc:  # asv raises several kinds for an unreadable file
        raise PublishError(f"cannot read the results of machine {machine!r} in {results_dir}: {exc}") from None
    return sorted(seen.items(), key=lambda kv: (kv[1], kv[0]))


def _row_key(row: LoadRow) -> str:
    return " / ".join(filter(None, (row.model, row.runtime_label, row.cache, row.stack)))


def _row_data(row: LoadRow) -> dict:
    out = {}
    for stage in STAGES:
        stat = row.timings.get(stage)
        if stat is not None:
            out[stage] = {"median": stat.median, "q25": stat.q25, "q75": stat.q75, "n": stat.n}
    out["memory"] = {k: row.probe.get(k) for k in MEMORY if row.probe.get(k) is not None}
    return out


def _verdicts(current, previous, threshold: float) -> dict[tuple[str, str, str], str]:
    """(model, runtime, cache) -> {stage: the gate's verdict against the previous commit}."""
    by_name = {m.asv_name: m for m in current}
    out: dict[tuple, dict] = {}
    for c in compare(current, previous, threshold):
        m = by_name.get(c.asv_name)
        stage = TIMING_BENCHMARKS.get(catalog_name(m.benchmark)) if m is not None else None
        if stage is None:
            continue
        key = (m.params.get("model", ""), m.params.get("runtime", ""), m.params.get("cache", ""))
        out.setdefault(key, {})[stage] = c.status
    return out


def stage_data(results_dir: Path, config: Config, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Everything the page draws, per machine: commits oldest first, rows, verdicts, targets."""
    machines = list_machines(results_dir)
    if not machines:
        raise PublishError(f"no asv results in {results_dir}: run `asv run` first")
    table = load_targets(config)
    data = {"threshold": threshold, "stages": list(PARTS), "machines": {}}
    for machine in machines:
        commits, rows, previous, before = [], {}, None, []
        for i, (commit, date) in enumerate(_commits(results_dir, machine)):
            try:
                loaded = load_commit_results(results_dir, machine, commit)
            except ResultsError as exc:
                raise PublishError(str(exc)) from None
            commits.append({"hash": commit, "date": date})
            if any(m.status == "ok" and before_one_load(m.benchmark) for m in loaded.measurements):
                before.append(commit)
            verdicts = _verdicts(loaded.measurements, previous, threshold) if previous is not None else {}
            for row in rows_from_measurements(loaded.measurements, config.strategies()):
                key = _row_key(row)
                entry = rows.setdefault(key, {"model": row.model, "runtime": row.runtime_label, "cache": row.cache,
                                              "targets": table.applying_to(row.model, row.cache), "points": {}})
                point = _row_data(row)
                found = verdicts.get((row.model, row.runtime, row.cache), {})
                point["verdicts"] = {s: v for s, v in found.items() if v in ("regressed", "improved")}
                entry["points"][i] = point
            previous = loaded.measurements
        data["machines"][machine] = {"commits": commits, "rows": rows, "before_one_load": before}
    return data


def write_stage_page(html_dir: Path, data: dict) -> Path:
    page = html_dir / PAGE_DIR / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    write_new_file(page, PAGE.replace("/*DATA*/null", blob).replace("{{title}}", html.escape("embedload: stage breakdown")),
                   force=True)  # the page is embedload's own, rewritten by every publish
    return page


def publish(html_dir: Path, results_dir: Path, config: Config, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Both steps; what was done, for the command's summary."""
    if not html_dir.is_dir():
        raise PublishError(f"html folder {html_dir} does not exist: run `asv publish` first")
    data = stage_data(results_dir, config, threshold)
    replaced = make_offline(html_dir)
    page = write_stage_page(html_dir, data)
    link_stage_page(html_dir)
    return {"vendored": replaced, "page": page,
            "machines": {m: len(d["commits"]) for m, d in data["machines"].items()}}


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 6px}
label{margin-right:14px} select{margin-left:4px}
.note{color:#555;font-size:12px} table{border-collapse:collapse;margin-top:6px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f4f4} td.l,th.l{text-align:left}
.legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.regressed{color:#b00020;font-weight:600} .improved{color:#1b7f3b;font-weight:600}
svg text{font:11px system-ui,sans-serif}
</style></head>
<body>
<h1>Where the load time goes, commit by commit</h1>
<div class="note">Medians of asv's samples (each a fresh interpreter); the whisker spans the total's quartiles.
Verdicts are the gate's (embedload gate) against the previous commit measured on the same machine and environment;
commits measured minutes or days apart also differ by the machine's drift (up to ±10% on a shared VM), which the test cannot tell from a change:
to judge one change, measure both commits back to back, rounds interleaved (<code>asv continuous --interleave-rounds</code>, then <code>embedload gate</code>).
Written by <code>embedload publish</code>; nothing on this page is fetched from the network.
<a href="../index.html">asv's dashboard</a></div>
<div class="note" id="before" hidden></div>
<p><label>machine<select id="machine"></select></label><label>model<select id="model"></select></label>
<label>runtime<select id="runtime"></select></label><label>cache<select id="cache"></select></label></p>
<div class="legend" id="legend"></div>
<h2>Time per stage</h2><div id="time"></div>
<h2>Memory</h2><div id="memory"></div>
<h2>Per commit</h2><table id="table"></table>
<h2>Latest commit on this machine: every model, runtime and cache state</h2><table id="latest"></table>
<script>
const DATA = /*DATA*/null;
const COLORS = {import:"#4e79a7", init:"#f28e2b", first_encode:"#59a14f"};
const MEMCOLORS = {peak_rss_import:"#4e79a7", peak_rss_init:"#f28e2b", peak_rss_first_encode:"#59a14f", rss_growth:"#333"};
const LABEL = {import:"import", init:"init", first_encode:"first encode", total:"total",
  peak_rss_import:"peak RSS in import", peak_rss_init:"peak RSS in init", peak_rss_first_encode:"peak RSS in first encode", rss_growth:"RSS growth"};
const NS = "http://www.w3.org/2000/svg";
const $ = id => document.getElementById(id);
function secs(v){ if(v==null) return "–"; return v>=1 ? v.toFixed(2)+" s" : (v*1000).toFixed(v>=0.1?0:1)+" ms"; }
function mb(v){ return v==null ? "–" : (v/1e6).toFixed(0)+" MB"; }
function el(tag, attrs, parent, text){ const e=document.createElementNS(NS,tag); for(const k in attrs) e.setAttribute(k,attrs[k]);
  if(text!=null) e.textContent=text; if(parent) parent.appendChild(e); return e; }
function options(select, values, keep){ const old = keep ?? select.value; select.innerHTML="";
  for(const v of values){ const o=document.createElement("option"); o.value=o.textContent=v; select.appendChild(o); }
  if(values.includes(old)) select.value=old; }
function machine(){ return DATA.machines[$("machine").value]; }
function rowsOf(m){ return Object.values(m.rows); }
function refreshSelectors(){
  const m = machine(), rows = rowsOf(m);
  options($("model"), [...new Set(rows.map(r=>r.model))]);
  options($("runtime"), [...new Set(rows.filter(r=>r.model==$("model").value).map(r=>r.runtime))]);
  options($("cache"), [...new Set(rows.filter(r=>r.model==$("model").value && r.runtime==$("runtime").value).map(r=>r.cache))]);
}
function chosen(){ const m=machine(); return rowsOf(m).find(r=>r.model==$("model").value && r.runtime==$("runtime").value && r.cache==$("cache").value); }
function short(c){ return c.hash.slice(0,8); }
function axis(svg, x0, y0, w, h, max, fmt){
  for(let i=0;i<=4;i++){ const y=y0+h-h*i/4; el("line",{x1:x0,x2:x0+w,y1:y,y2:y,stroke:"#eee"},svg);
    el("text",{x:x0-6,y:y+4,"text-anchor":"end"},svg,fmt(max*i/4)); } }
function drawTime(row, commits){
  const box=$("time"); box.innerHTML=""; const idx=Object.keys(row.points).map(Number).sort((a,b)=>a-b);
  const W=Math.max(520, 70*idx.length+90), H=300, x0=70, y0=20, w=W-x0-20, h=H-y0-60;
  let max=0; for(const i of idx){ const p=row.points[i]; const s=DATA.stages.reduce((a,k)=>a+(p[k]?.median||0),0);
    max=Math.max(max, s, p.total?.q75||p.total?.median||0); }
  for(const k of ["total","import"]) if(row.targets[k]!=null && row.targets[k] < max*1.6) max=Math.max(max,row.targets[k]);
  max = max*1.1 || 1;
  const svg=el("svg",{width:W,height:H,id:"time-chart",role:"img"},box); axis(svg,x0,y0,w,h,max,secs);
  const band=w/Math.max(idx.length,1), bw=Math.min(40, band*0.6), Y=v=>y0+h-h*v/max;
  idx.forEach((i,j)=>{ const p=row.points[i], cx=x0+band*(j+0.5); let acc=0;
    for(const k of DATA.stages){ if(!p[k]) continue; const v=p[k].median;
      const r=el("rect",{x:cx-bw/2,y:Y(acc+v),width:bw,height:Math.max(0,Y(acc)-Y(acc+v)),fill:COLORS[k],"class":"bar","data-stage":k,"data-commit":short(commits[i]),"data-median":v},svg);
      el("title",{},r,`${short(commits[i])} ${LABEL[k]}: ${secs(v)} (median of ${p[k].n||"?"})`); acc+=v; }
    if(p.total){ const t=p.total; const g=el("g",{"class":"total","data-commit":short(commits[i]),"data-median":t.median},svg);
      if(t.q25!=null) el("line",{x1:cx,x2:cx,y1:Y(t.q25),y2:Y(t.q75),stroke:"#000","stroke-width":1.5},g);
      el("line",{x1:cx-bw/2-4,x2:cx+bw/2+4,y1:Y(t.median),y2:Y(t.median),stroke:"#000","stroke-width":2.5},g);
      el("title",{},g,`${short(commits[i])} total: ${secs(t.median)} (quartiles ${secs(t.q25)} – ${secs(t.q75)})`); }
    const v=p.verdicts||{}; const marks=Object.entries(v);
    if(marks.length){ const bad=marks.some(([,s])=>s=="regressed");
      const m=el("text",{x:cx,y:y0+8,"text-anchor":"middle","class":"verdict "+(bad?"regressed":"improved"),fill:bad?"#b00020":"#1b7f3b"},svg,bad?"▲ slower":"▼ faster");
      el("title",{},m,marks.map(([s,x])=>`${LABEL[s]}: ${x}`).join(", ")+" vs the previous commit (embedload gate)"); }
    el("text",{x:cx,y:y0+h+16,"text-anchor":"middle"},svg,short(commits[i]));
  });
  for(const [k,dash] of [["total","6 4"],["import","2 3"]]){ const t=row.targets[k]; if(t==null||t>max) continue;
    const l=el("line",{x1:x0,x2:x0+w,y1:Y(t),y2:Y(t),stroke:"#b00020","stroke-dasharray":dash,"class":"target","data-target":k},svg);
    el("title",{},l,`${k} target ${secs(t)}`); el("text",{x:x0+w-2,y:Y(t)-4,"text-anchor":"end",fill:"#b00020"},svg,`${k} target ${secs(t)}`); }
}
function drawMemory(row, commits){
  const box=$("memory"); box.innerHTML=""; const idx=Object.keys(row.points).map(Number).sort((a,b)=>a-b);
  const keys=["peak_rss_import","peak_rss_init","peak_rss_first_encode"];
  const W=Math.max(520, 70*idx.length+90), H=220, x0=70, y0=10, w=W-x0-20, h=H-y0-40;
  let max=0; for(const i of idx){ const m=row.points[i].memory||{}; for(const k of [...keys,"rss_growth"]) max=Math.max(max,m[k]||0); }
  if(!max){ box.textContent="no memory figures for this row (the Memory benchmarks were not run)"; return; }
  max*=1.1; const svg=el("svg",{width:W,height:H,id:"memory-chart"},box); axis(svg,x0,y0,w,h,max,mb);
  const band=w/Math.max(idx.length,1), bw=Math.min(14, band*0.22), Y=v=>y0+h-h*v/max;
  idx.forEach((i,j)=>{ const m=row.points[i].memory||{}, cx=x0+band*(j+0.5);
    keys.forEach((k,n)=>{ if(m[k]==null) return; const r=el("rect",{x:cx+(n-1.5)*bw,y:Y(m[k]),width:bw-1,height:y0+h-Y(m[k]),fill:MEMCOLORS[k],"class":"mem"},svg);
      el("title",{},r,`${short(commits[i])} ${LABEL[k]}: ${mb(m[k])}`); });
    if(m.rss_growth!=null){ const c=el("circle",{cx:cx+1.5*bw+4,cy:Y(m.rss_growth),r:4,fill:"#333"},svg); el("title",{},c,`${short(commits[i])} RSS growth: ${mb(m.rss_growth)}`); }
    el("text",{x:cx,y:y0+h+16,"text-anchor":"middle"},svg,short(commits[i])); });
}
function cell(tr, text, cls){ const td=document.createElement("td"); td.textContent=text; if(cls) td.className=cls; tr.appendChild(td); return td; }
function head(table, names){ const tr=document.createElement("tr"); for(const n of names){ const th=document.createElement("th"); th.textContent=n; tr.appendChild(th);} table.appendChild(tr); }
function drawTable(row, commits){
  const t=$("table"); t.innerHTML=""; head(t,["commit","date","import","init","first encode","total","total q25–q75","gate vs previous","peak RSS (first encode)","RSS growth"]);
  for(const i of Object.keys(row.points).map(Number).sort((a,b)=>a-b)){ const p=row.points[i], tr=document.createElement("tr"), c=commits[i];
    cell(tr, short(c), "l"); cell(tr, c.date? new Date(c.date).toISOString().slice(0,16).replace("T"," "):"–", "l");
    for(const k of ["import","init","first_encode","total"]){ const td=cell(tr, secs(p[k]?.median)); td.dataset.stage=k; if(p[k]) td.dataset.median=p[k].median; }
    cell(tr, p.total&&p.total.q25!=null ? `${secs(p.total.q25)} – ${secs(p.total.q75)}` : "–");
    const v=Object.entries(p.verdicts||{}); cell(tr, v.length? v.map(([s,x])=>`${LABEL[s]} ${x}`).join(", ") : "–", v.some(([,x])=>x=="regressed")?"l regressed":(v.length?"l improved":"l"));
    cell(tr, mb(p.memory?.peak_rss_first_encode)); cell(tr, mb(p.memory?.rss_growth)); t.appendChild(tr); }
}
function drawLatest(){
  const m=machine(), t=$("latest"); t.innerHTML=""; const last=m.commits.length-1;
  head(t,["model","runtime","cache","import","init","first encode","total","peak RSS","RSS growth"]);
  const rows=rowsOf(m).filter(r=>r.points[last]).sort((a,b)=>(a.model+a.runtime+a.cache).localeCompare(b.model+b.runtime+b.cache));
  for(const r of rows){ const p=r.points[last], tr=document.createElement("tr"); cell(tr,r.model,"l"); cell(tr,r.runtime,"l"); cell(tr,r.cache,"l");
    for(const k of ["import","init","first_encode","total"]) cell(tr, secs(p[k]?.median));
    cell(tr, mb(p.memory?.peak_rss_first_encode)); cell(tr, mb(p.memory?.rss_growth)); t.appendChild(tr); }
  const cap=document.createElement("caption"); cap.className="note"; cap.style.textAlign="left";
  cap.textContent = m.commits.length ? `commit ${short(m.commits[last])}` : "no commits"; t.prepend(cap);
}
function drawBefore(){ const b=machine().before_one_load||[], box=$("before"); box.hidden=!b.length;
  box.textContent = b.length ? `${b.length} commit(s) on this machine (${b.map(h=>h.slice(0,8)).join(", ")}) also have results of the suite's design before one load per sample (each stage in processes of its own): those are not drawn, and not joined to today's figures, which come from one load per sample (docs/asv.md, "Before one load per sample").` : ""; }
function draw(){ const row=chosen(), commits=machine().commits; drawBefore();
  if(!row){ $("time").textContent="nothing measured for this choice"; $("memory").textContent=""; $("table").innerHTML=""; drawLatest(); return; }
  drawTime(row, commits); drawMemory(row, commits); drawTable(row, commits); drawLatest(); }
$("legend").innerHTML = DATA.stages.map(k=>`<span><i style="background:${COLORS[k]}"></i>${LABEL[k]}</span>`).join("")
  + `<span><i style="background:#000;height:3px;vertical-align:3px"></i>total (median, quartiles)</span><span><i style="border-top:2px dashed #b00020;height:0;vertical-align:3px"></i>target</span>`;
options($("machine"), Object.keys(DATA.machines));
for(const id of ["machine","model","runtime","cache"]) $(id).addEventListener("change", ()=>{ if(id!="cache") refreshSelectors(); draw(); });
refreshSelectors(); draw();
document.body.dataset.ready = "1";
</script>
</body></html>
"""

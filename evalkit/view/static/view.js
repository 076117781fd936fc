// evalkit view: a static page over the JSON of evalkit.view.data (served by `evalkit view`, or files of
// an export opened from disk). No framework: routes are URL hashes, pages are template strings.
"use strict";
const STATIC = !!window.EVALKIT_STATIC;
const cache = new Map();
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const hex = (s) => Array.from(new TextEncoder().encode(s)).map((b) => b.toString(16).padStart(2, "0")).join("");
const enc = encodeURIComponent;

function script(name) {
  // an export's data file data/<name>.js, which sets window.EVALKIT_DATA[name]
  return new Promise((resolve, reject) => {
    window.EVALKIT_DATA = window.EVALKIT_DATA || {};
    const s = document.createElement("script");
    s.src = `data/${name}.js`;
    s.onload = () => resolve(window.EVALKIT_DATA[name]);
    s.onerror = () => reject(new Error(`not in this export: ${name}`));
    document.head.appendChild(s);
  });
}

function load(kind, arg) {
  const name = arg === undefined ? kind : `${kind}-${hex(arg)}`;
  if (cache.has(name)) return cache.get(name);
  let p;
  if (STATIC && kind === "sample") {
    // an export holds the samples of one (cell, problem) per file
    const [cell, , ...rest] = arg.split("~");
    const pid = rest.slice(0, -1).join("~");
    p = script(`texts-${hex(`${cell}~${pid}`)}`).then((all) => {
      if (!all || !(arg in all)) throw new Error(`not in this export: sample ${arg}`);
      return all[arg];
    });
  } else if (STATIC) {
    p = script(name);
  } else {
    p = fetch(`api/${kind}` + (arg === undefined ? "" : `?arg=${enc(arg)}`)).then(async (r) => {
      if (!r.ok) throw new Error(await r.text());
      return r.json();
    });
  }
  cache.set(name, p);
  return p;
}

const text = (s) => s.response ?? s.segments.map((x) => x.text).join("");

const verdict = (c) => (c ? '<span class="ok">correct</span>' : '<span class="bad">incorrect</span>');
const sampleLink = (key, text) => `<a href="#/sample/${enc(key)}">${esc(text)}</a>`;
const problemLink = (task, pid, text) => `<a href="#/problem/${enc(task)}/${enc(pid)}">${esc(text ?? pid)}</a>`;

function table(headers, rows, leftCols = [0]) {
  const th = headers.map((h, i) => `<th class="${leftCols.includes(i) ? "l" : ""}">${esc(h)}</th>`).join("");
  const tr = rows.map((r) => "<tr>" + r.map((c, i) => `<td class="${leftCols.includes(i) ? "l" : ""}">${c}</td>`).join("") + "</tr>");
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr.join("")}</tbody></table>`;
}

// A newer route supersedes one still loading: a page draws only if no route began after it did,
// and only the latest route says ready (what the tests and a reader's clicks wait on).
let routing = 0;
const SUPERSEDED = new Error("superseded");
function current(t) { if (t !== routing) throw SUPERSEDED; }

async function overview() {
  const t = routing;
  const o = await load("overview");
  current(t);
  $("#sweep").textContent = o.sweep;
  const models = Object.entries(o.models || {}).map(([k, v]) => `${esc(k)} (${esc(v.engine ?? v.kind ?? "")}${v.test_double ? ", a test double" : ""})`).join(", ");
  const vers = Object.entries(o.versions || {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ");
  const cellRows = o.table.rows.map(([cid, ...cells]) => [`<a href="#/samples?cell=${cid}">${esc(cells[0])}</a>`, ...cells.slice(1).map(esc)]);
  let html = `<h1>${esc(o.sweep)}</h1><div class="meta">
    <b>models</b><span>${models}</span><b>grader</b><span>${esc(o.grader_version)}</span>
    <b>versions</b><span>${esc(vers)}</span><b>samples</b><span id="n-samples">${o.samples}</span>
    <b>updated</b><span>${esc(o.updated)}</span></div>
    <h2>Cells</h2><div id="cells">${table(o.table.headers, cellRows, [0, 3])}</div><p class="note">${esc(o.table.note)}</p>`;
  if (o.votes.rows.length) html += `<h2>Majority vote</h2>` + table(o.votes.headers, o.votes.rows.map(([, ...c]) => c.map(esc)));
  if (o.figures.length) html += `<h2>Figures</h2>` + o.figures.map((f) => `<img class="fig" alt="${esc(f)}" src="figures/${esc(f)}">`).join("");
  html += `<h2>Problems × cells <small>(per-problem accuracy over seeds; hardest first)</small></h2>
    <p><label><input type="checkbox" id="byid"> sort by problem id</label></p><div id="grid"></div>
    <details><summary>spec</summary><pre class="text">${esc(JSON.stringify(o.spec, null, 2))}</pre></details>`;
  $("#main").innerHTML = html;
  const draw = () => {
    const g = o.grid;
    let order = g.problems.map((_, i) => i);
    if ($("#byid").checked) order.sort((a, b) => (g.problems[a].join("/") < g.problems[b].join("/") ? -1 : 1));
    const head = `<tr><th></th>${g.cells.map(([, lab]) => `<th title="${esc(lab)}"><div class="vh">${esc(lab)}</div></th>`).join("")}</tr>`;
    const body = order.map((i) => {
      const [task, pid] = g.problems[i];
      const tds = g.acc[i].map((a) => {
        const col = a === null ? "#eee" : `hsl(${Math.round(120 * a)},65%,${Math.round(78 - 25 * a)}%)`;
        return `<td title="${a === null ? "-" : (100 * a).toFixed(0) + "%"}" style="background:${col}" data-p="${i}"></td>`;
      }).join("");
      return `<tr><td class="name" data-p="${i}">${esc(task)}/${esc(pid)}</td>${tds}</tr>`;
    }).join("");
    $("#grid").innerHTML = `<table class="grid">${head}${body}</table>`;
    $("#grid").onclick = (e) => {
      const i = e.target.dataset.p;
      if (i !== undefined) location.hash = `#/problem/${enc(g.problems[i][0])}/${enc(g.problems[i][1])}`;
    };
  };
  $("#byid").onchange = draw;
  draw();
}

const FILTERS = ["cell", "seed", "correct", "reason", "end", "q"];

function matches(f, d, i) {
  if (f.cell && d.cell_id[i] !== f.cell) return false;
  if (f.seed && String(d.seed[i]) !== f.seed) return false;
  if (f.correct && (d.correct[i] ? "1" : "0") !== f.correct) return false;
  if (f.reason && d.grade_reason[i] !== f.reason) return false;
  if (f.end && (d.forced_end[i] ? "forced" : "natural") !== f.end) return false;
  if (f.q && !String(d.extracted[i] ?? "").includes(f.q)) return false;  // an export: the extracted answer
  return true;
}

async function listPage(f, offset) {
  // one page of the sample list: rows as objects, how many match (null: not counted), whether more follow
  const rows = (d, idx) => idx.map((i) => Object.fromEntries(Object.keys(d).map((c) => [c, d[c][i]])));
  if (!STATIC) {
    const q = new URLSearchParams();
    for (const k of FILTERS) if (f[k]) q.set(k, f[k]);
    if (offset) q.set("offset", offset);
    const ix = await load("index", q.toString());
    const n = ix.data.cell_id.length;
    return { ix, rows: rows(ix.data, [...Array(n).keys()]), matched: ix.matched, more: ix.more };
  }
  // an export: the rows of one problem per file, read until the page is full
  const ix = await load("index");
  const out = [];
  let matched = 0, more = false;
  for (const [task, pid] of ix.problems) {
    const d = await load("rows", `${task}~${pid}`);
    const hit = [];
    for (let i = 0; i < d.cell_id.length; i++) if (matches(f, d, i)) hit.push(i);
    for (const r of rows(d, hit)) {
      if (matched >= offset && out.length < ix.page_rows) out.push(r);
      else if (matched >= offset) more = true;
      matched++;
    }
    if (more) break;
  }
  return { ix, rows: out, matched: more ? null : matched, more };
}

async function samples(params) {
  const f = Object.fromEntries(params);
  const offset = Number(f.offset || 0);
  const t = routing;
  const { ix, rows, matched, more } = await listPage(f, offset);
  current(t);
  const o = ix.options;
  const opts = (vals, cur) => ['<option value="">any</option>', ...vals.map((v) => `<option ${String(v) === cur ? "selected" : ""} value="${esc(v)}">${esc(ix.labels[v] ?? v)}</option>`)].join("");
  $("#main").innerHTML = `<h1>Samples</h1><div class="filters">
    cell <select id="f-cell">${opts(o.cell, f.cell)}</select>
    seed <select id="f-seed">${opts(o.seed, f.seed)}</select>
    verdict <select id="f-correct"><option value="">any</option><option ${f.correct === "1" ? "selected" : ""} value="1">correct</option><option ${f.correct === "0" ? "selected" : ""} value="0">incorrect</option></select>
    reason <select id="f-reason">${opts(o.reason, f.reason)}</select>
    end <select id="f-end"><option value="">any</option><option ${f.end === "forced" ? "selected" : ""} value="forced">forced by the cap</option><option ${f.end === "natural" ? "selected" : ""} value="natural">ended by the model</option></select>
    search <input id="f-q" value="${esc(f.q ?? "")}" placeholder="${STATIC ? "normalized answer" : "text or answer"}">
    <button id="f-go">filter</button></div><div id="list">…</div>`;
  const go = (off) => {
    const p = new URLSearchParams();
    for (const k of FILTERS) { const v = $("#f-" + k).value; if (v) p.set(k, v); }
    if (off) p.set("offset", off);
    location.hash = "#/samples?" + p.toString();
  };
  $("#f-go").onclick = () => go(0);
  const body = rows.map((r) => {
    const key = `${r.cell_id}~${r.seed}~${r.problem_id}~${r.sample}`;
    return [problemLink(r.task, r.problem_id, `${r.task}/${r.problem_id}`), esc(ix.labels[r.cell_id] ?? r.cell_id),
      r.seed, r.sample, r.thinking_tokens, esc(r.thinking_end), r.n_ignored, esc(r.extracted ?? "-"),
      verdict(r.correct), esc(r.grade_reason), sampleLink(key, "open")];
  });
  const shown = rows.length ? `${offset + 1}-${offset + rows.length}` : "none";
  const count = matched === null ? `samples ${shown} of the first matching (of ${ix.total} samples)` : `${matched} of ${ix.total} samples`;
  $("#list").innerHTML = `<p id="count">${count}${matched !== null && matched > rows.length ? ` (showing ${shown})` : ""}</p>` +
    table(["problem", "cell", "seed", "sample", "thinking tok", "thinking end", "ignored", "normalized answer", "verdict", "reason", ""], body, [0, 1, 7, 9]) +
    `<p>${offset ? '<button id="prev">previous page</button> ' : ""}${more ? '<button id="next">next page</button>' : ""}</p>`;
  if (more) $("#next").onclick = () => go(offset + ix.page_rows);
  if (offset) $("#prev").onclick = () => go(Math.max(0, offset - ix.page_rows));
}

function segs(segments, upto = null) {
  let pos = 0, out = "";
  for (const s of segments) {
    let t = s.text;
    if (upto !== null && pos <= upto && upto < pos + t.length) {
      const k = upto - pos;
      out += `<span class="seg-${s.kind}">${esc(t.slice(0, k))}</span><span class="diverge" id="diverge">${esc(t[k])}</span><span class="seg-${s.kind}">${esc(t.slice(k + 1))}</span>`;
    } else out += `<span class="seg-${s.kind}" ${s.kind === "control" ? `title="injected control${s.exact === false ? " (position inferred)" : ""}"` : ""}>${esc(t)}</span>`;
    pos += t.length;
  }
  return out;
}

// One cut per position on a trajectory: the branches that end there (several caps cut a trajectory
// that ended before them at the same token) share it and its label.
function cuts(t) {
  const at = new Map();
  for (const b of t.branches) at.set(b.tokens, [...(at.get(b.tokens) ?? []), b]);
  return [...at].map(([tokens, bs]) => `<div class="cut" style="left:${(100 * tokens) / (t.length || 1)}%"
    title="${esc(bs.map((b) => `cap ${b.cap ?? "none"}, ignore ${b.n_ignore}`).join("; "))}: ${tokens} tokens"><span>${esc(bs.map((b) => `${b.cap ?? "∞"}/${b.n_ignore}`).join(", "))}</span></div>`).join("");
}

// Cut labels under a bar: centred on their cut but kept within the bar (wrapped when wider than it),
// each moved down until it overlaps no label placed before it; the bar keeps room below for them.
function placeCutLabels(bar) {
  const box = bar.getBoundingClientRect();
  const placed = [];
  let depth = 0;
  for (const span of bar.querySelectorAll(".cut span")) {
    span.style.left = "0px";
    span.style.top = "22px";
    span.style.whiteSpace = "nowrap";
    span.style.width = "";
    if (span.getBoundingClientRect().width > box.width) {  // wider than the bar: wrapped to its width
      span.style.whiteSpace = "normal";
      span.style.width = `${box.width}px`;
    }
    const r0 = span.getBoundingClientRect();
    const step = parseFloat(getComputedStyle(span).lineHeight) || r0.height;
    const left = Math.min(Math.max(r0.left - r0.width / 2, box.left), box.right - r0.width);
    span.style.left = `${left - r0.left}px`;
    let top = 22;
    for (let r = span.getBoundingClientRect(); placed.some((q) => q.left < r.right && r.left < q.right && q.top < r.bottom && r.top < q.bottom);
      r = span.getBoundingClientRect()) {
      top += step;
      span.style.top = `${top}px`;
    }
    placed.push(span.getBoundingClientRect());
    depth = Math.max(depth, top - 22 + r0.height);
  }
  bar.style.marginBottom = `${depth + 4}px`;
}
const placeAllCutLabels = () => document.querySelectorAll(".tree .bar").forEach(placeCutLabels);
window.addEventListener("resize", placeAllCutLabels);

async function problem(task, pid, page = 0) {
  const t = routing;
  const p = await load("problem", `${page}~${task}~${pid}`);
  current(t);
  const pageLink = (k, label) => `<a id="seeds-${k < page ? "prev" : "next"}" href="#/problem/${enc(task)}/${enc(pid)}?page=${k}">${label}</a>`;
  const nav = p.pages > 1 ? `<p id="seed-pages">seeds ${p.seeds[0]}-${p.seeds[p.seeds.length - 1]} (page ${page + 1} of ${p.pages}; ${p.n_seeds} seeds) ${page > 0 ? pageLink(page - 1, "previous seeds") : ""} ${page + 1 < p.pages ? pageLink(page + 1, "next seeds") : ""}</p>` : "";
  const trees = p.trees.map((t) => {
    const marks = t.marks.map((m) => `<div class="mark" style="left:${(100 * m) / t.length}%" title="control injected at token ${m}"></div>`).join("");
    const rows = t.branches.map((b) => [b.cap ?? "none", b.n_ignore, b.tokens, esc(b.end), esc(b.extracted ?? "-"), verdict(b.correct), sampleLink(b.key, "open")]);
    return `<div class="tree"><h3>seed ${t.seed}${t.controls.length ? `, controls ${esc(t.controls.join(" | "))}` : ""}: trajectory of ${t.length} thinking tokens (ended: ${esc(t.end)})</h3>
      <div class="bar">${marks}${cuts(t)}</div>${table(["cap", "ignore", "thinking tok", "end", "normalized answer", "verdict", ""], rows, [3, 4])}</div>`;
  }).join("");
  const others = p.samples.filter((s) => s.method !== "sequential").map((s) => [esc(p.labels[s.cell_id] ?? s.cell_id), s.seed, s.sample, esc(s.extracted ?? "-"), verdict(s.correct), sampleLink(s.key, "open")]);
  $("#main").innerHTML = `<h1>${esc(task)} / ${esc(pid)}</h1><p>gold: <b>${esc(p.gold)}</b></p>
    <div class="text">${esc(p.text ?? "(problem text unavailable)")}</div>
    <h2>Trajectory trees</h2>${nav}<p class="legend"><span class="seg-control">control injected</span> <span>| cut: cap/ignores</span></p>${trees || "<p>no sequential samples</p>"}
    ${others.length ? "<h2>Other samples</h2>" + table(["cell", "seed", "sample", "normalized answer", "verdict", ""], others, [0, 3]) : ""}`;
  placeAllCutLabels();
}

async function sample(key) {
  const t = routing;
  const s = await load("sample", key);
  current(t);
  const mates = (s.mates || []).map(([k, label]) => `<option value="${esc(k)}">${esc(label)}</option>`);
  const ref = s.reference === undefined || s.reference === null || s.reference === s.correct ? "" :
    `<b>plain math-verify</b><span id="reference">${verdict(s.reference)} (differs from evalkit)</span>`;
  $("#main").innerHTML = `<h1>${esc(s.label)}</h1><p>${problemLink(s.task, s.problem_id, `${s.task}/${s.problem_id}`)}, seed ${s.seed}, sample ${s.sample}</p>
    <div class="meta"><b>verdict</b><span id="verdict">${verdict(s.correct)} (${esc(s.grade_reason)}; grader ${esc(s.grader_version)})</span>
    <b>extracted</b><span id="extracted">${esc(s.stated ?? s.extracted ?? "-")}</span>
    <b>normalized</b><span id="normalized">${esc(s.extracted ?? "-")}</span><b>gold</b><span>${esc(s.gold)}</span>${ref}
    <b>tokens</b><span>prompt ${s.prompt_tokens ?? "?"}, thinking ${s.thinking_tokens ?? "?"} (controls ${s.control_tokens ?? "?"}), forced ${s.forced_tokens ?? "?"}, answer ${s.answer_tokens ?? "?"}</span>
    <b>thinking end</b><span>${esc(s.thinking_end)}${s.forced_end ? " (forced by the cap)" : ""}; ignored ${s.n_ignored ?? "?"} end attempts</span>
    <b>answer finish</b><span>${esc(s.answer_finish)}</span></div>
    ${mates.length ? `<p>compare with <select id="mate">${mates.join("")}</select> <button id="pair">paired view</button></p>` : ""}
    <p class="legend"><span class="seg-thinking">thinking</span><span class="seg-control">injected control</span><span class="seg-forced">forced delimiter + prefix</span><span class="seg-answer">answer</span></p>
    <div class="text" id="text">${segs(s.segments)}</div>`;
  if (mates.length) $("#pair").onclick = () => (location.hash = `#/pair/${enc(key)}/${enc($("#mate").value)}`);
}

async function pair(a, b) {
  const t = routing;
  const [sa, sb] = await Promise.all([load("sample", a), load("sample", b)]);
  current(t);
  let n = 0;
  const ta = text(sa), tb = text(sb);
  while (n < ta.length && n < tb.length && ta[n] === tb[n]) n++;
  const col = (s) => `<div><h3>${esc(s.label)}</h3><p>${verdict(s.correct)}: ${esc(s.stated ?? s.extracted ?? "-")}; ${s.thinking_tokens} thinking tokens</p><div class="text">${segs(s.segments, n)}</div></div>`;
  $("#main").innerHTML = `<h1>Paired: ${esc(sa.task)}/${esc(sa.problem_id)}, seed ${sa.seed}</h1>
    <p id="common">identical for the first ${n} characters; the first difference is marked</p><div class="cols">${col(sa)}${col(sb)}</div>`;
}

async function route() {
  const mine = ++routing;
  delete document.body.dataset.ready;
  const h = location.hash.replace(/^#\/?/, "");
  const [path, query] = h.split("?");
  const parts = path.split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "samples") await samples(new URLSearchParams(query ?? ""));
    else if (parts[0] === "problem") await problem(parts[1], parts.slice(2).join("/"), Number(new URLSearchParams(query ?? "").get("page") || 0));
    else if (parts[0] === "sample") await sample(parts.slice(1).join("/"));
    else if (parts[0] === "pair") await pair(parts[1], parts[2]);
    else await overview();
    window.scrollTo(0, 0);
  } catch (e) {
    if (e !== SUPERSEDED && mine === routing) $("#main").innerHTML = `<p class="bad">${esc(e.message)}</p>`;
  }
  if (mine === routing) document.body.dataset.ready = h || "overview";
}
window.addEventListener("hashchange", route);
// every page: the sweep's name and, over rows of a test double (the scripted engine), its banner
load("overview").then((o) => {
  $("#sweep").textContent = o.sweep;
  if (o.banner) { $("#banner").textContent = o.banner; $("#banner").hidden = false; }
}).catch(() => {});
route();

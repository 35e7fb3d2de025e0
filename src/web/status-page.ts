// The status page served at `/`: one self-contained HTML document (CSS and JS inline, no CDN, no
// build step). It polls the JSON API (/api/pool, /api/history, /api/events, /api/status, /health)
// and redraws in place. A .ts module rather than an .html file so that `tsc` carries it into
// dist/ with the rest. The page's script uses no template literals (this file is one).
export const STATUS_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nodepool status</title>
<style>
  :root { --fg: #1d232a; --muted: #68717a; --line: #d8dde2; --bg: #f6f7f9; --card: #fff; --ok: #1a7f37; --bad: #c62828; --warn: #b26a00; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 1.5rem; align-items: baseline; padding: .8rem 1.2rem; background: #20262d; color: #fff; flex-wrap: wrap; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header span { color: #c5ccd3; }
  #live.stale { color: #ffb4a9; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1rem; padding: 1rem 1.2rem; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .7rem .9rem; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: .95rem; margin: 0 0 .5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { padding: .25rem .5rem; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
  th:first-child, td:first-child, td.text, th.text { text-align: left; }
  th { font-weight: 600; color: var(--muted); font-size: .8rem; }
  td.text { white-space: normal; }
  .short { color: var(--bad); font-weight: 600; }
  .ok { color: var(--ok); }
  .bad { color: var(--bad); font-weight: 600; }
  .muted { color: var(--muted); }
  .cell small { color: var(--muted); }
  svg { width: 100%; height: 220px; display: block; }
  svg text { font-size: 11px; fill: var(--muted); }
  .legend { display: flex; gap: 1rem; flex-wrap: wrap; font-size: .8rem; color: var(--muted); }
  .legend i { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin-right: 4px; }
  #error { color: var(--bad); padding: 0 1.2rem; }
</style>
</head>
<body>
<header>
  <h1>nodepool</h1>
  <span id="deployment"></span>
  <span id="version"></span>
  <span id="totals"></span>
  <span id="live">loading...</span>
</header>
<div id="error"></div>
<main>
  <section class="wide">
    <h2>Labels x providers <small class="muted">(ready / building / in use / deleting per provider; totals against min-ready and demand)</small></h2>
    <table id="labels"><thead></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Pool size and demand, <span id="span">last hour</span></h2>
    <div class="legend" id="legend"></div>
    <svg id="chart" viewBox="0 0 1000 220" preserveAspectRatio="none" role="img" aria-label="pool size and demand per label"></svg>
  </section>
  <section>
    <h2>Providers</h2>
    <table id="providers"><thead><tr><th>Provider</th><th>Cloud</th><th>Max</th><th>Held</th><th>Capacity</th><th>Quota inst.</th><th>Launching</th><th>API calls</th><th>API errors</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Images</h2>
    <table id="images"><thead><tr><th>Provider</th><th>Image</th><th>Current</th><th>Age</th><th>Last build</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Recent node events</h2>
    <table id="events"><thead><tr><th>When</th><th>Node</th><th class="text">Change</th><th class="text">Reason</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Recent launch failures</h2>
    <table id="failures"><thead><tr><th>When</th><th>Provider</th><th>Label</th><th>Code</th><th class="text">Message</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
var params = new URLSearchParams(location.search);
var INTERVAL = Math.max(200, Number(params.get("interval")) || 5000);
var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
var STATES = [["ready", "ready"], ["building", "building"], ["in-use", "inUse"], ["deleting", "deleting"]];
var updates = 0;

function esc(v) {
  return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}
function num(v) { return v === null || v === undefined ? "" : String(v); }
function ago(ms) {
  var s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? (s % 60) + "s" : "");
  if (s < 86400) return Math.floor(s / 3600) + "h" + (Math.floor(s / 60) % 60 ? (Math.floor(s / 60) % 60) + "m" : "");
  return Math.floor(s / 86400) + "d" + (Math.floor(s / 3600) % 24 ? (Math.floor(s / 3600) % 24) + "h" : "");
}
function getJson(path) {
  return fetch(path, { headers: { accept: "application/json" }, cache: "no-store" }).then(function (r) {
    // /health answers 503 with its JSON body when something is wrong: still data to show.
    if (!r.ok && r.status !== 503) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  });
}
function cell(label, field, value, cls) {
  return '<td class="' + (cls || "") + '" data-label="' + esc(label) + '" data-field="' + esc(field) + '">' + esc(num(value)) + "</td>";
}

function renderLabels(pool) {
  var providers = pool.providers.map(function (p) { return p.name; });
  var head = "<tr><th>Label</th><th>Min-ready</th><th>Demand</th><th>Ready</th><th>Building</th><th>In use</th><th>Used</th><th>Hold</th><th>Deleting</th><th>Deficit</th>";
  providers.forEach(function (p) { head += "<th>" + esc(p) + "</th>"; });
  document.querySelector("#labels thead").innerHTML = head + "</tr>";
  var rows = pool.labels.map(function (l) {
    var short = l.ready < l.minReady;
    var tr = '<tr data-row="' + esc(l.name) + '"><td>' + esc(l.name) + "</td>" + cell(l.name, "minReady", l.minReady) + cell(l.name, "demand", l.demand) +
      cell(l.name, "ready", l.ready, short ? "short" : "") + cell(l.name, "building", l.building) + cell(l.name, "inUse", l.inUse) +
      cell(l.name, "used", l.used) + cell(l.name, "hold", l.hold) + cell(l.name, "deleting", l.deleting) + cell(l.name, "deficit", l.deficit, l.deficit > 0 ? "short" : "");
    providers.forEach(function (p) {
      if (l.providers.indexOf(p) < 0) { tr += '<td class="muted">-</td>'; return; }
      var parts = STATES.map(function (s) {
        var n = 0;
        pool.nodes.forEach(function (c) { if (c.label === l.name && c.provider === p && c.state === s[0]) n += c.count; });
        return n;
      });
      tr += '<td class="cell" data-label="' + esc(l.name) + '" data-provider="' + esc(p) + '" title="ready / building / in use / deleting">' + parts.join(" / ") + "</td>";
    });
    return tr + "</tr>";
  });
  document.querySelector("#labels tbody").innerHTML = rows.join("");
}

function renderChart(history, labels) {
  var svg = document.getElementById("chart");
  var W = 1000, H = 220, L = 34, B = 20, T = 8;
  var now = history.now, span = history.spanMs, t0 = now - span;
  var max = 1;
  history.samples.forEach(function (s) {
    Object.keys(s.labels).forEach(function (k) { max = Math.max(max, s.labels[k].size, s.labels[k].demand || 0); });
  });
  function x(t) { return L + (W - L - 4) * (t - t0) / span; }
  function y(v) { return T + (H - T - B) * (1 - v / max); }
  var out = [];
  for (var i = 0; i <= 4; i++) {
    var v = Math.round(max * i / 4);
    out.push('<line x1="' + L + '" x2="' + W + '" y1="' + y(v) + '" y2="' + y(v) + '" stroke="#e6e9ec"/><text x="2" y="' + (y(v) + 4) + '">' + v + "</text>");
  }
  for (var q = 0; q <= 4; q++) {
    var at = t0 + span * q / 4;
    out.push('<text x="' + (x(at) - (q === 4 ? 24 : q === 0 ? 0 : 12)) + '" y="' + (H - 4) + '">' + (q === 4 ? "now" : "-" + ago(now - at)) + "</text>");
  }
  var legend = [];
  labels.forEach(function (name, idx) {
    var color = COLORS[idx % COLORS.length];
    var size = [], demand = [];
    history.samples.forEach(function (s) {
      var l = s.labels[name];
      if (!l || s.time < t0) return;
      size.push(x(s.time).toFixed(1) + "," + y(l.size).toFixed(1));
      if (l.demand !== null) demand.push(x(s.time).toFixed(1) + "," + y(l.demand).toFixed(1));
    });
    if (size.length) out.push('<polyline data-series="size" data-label="' + esc(name) + '" fill="none" stroke="' + color + '" stroke-width="2" points="' + size.join(" ") + '"/>');
    if (demand.length) out.push('<polyline data-series="demand" data-label="' + esc(name) + '" fill="none" stroke="' + color + '" stroke-width="1.5" stroke-dasharray="5 4" points="' + demand.join(" ") + '"/>');
    legend.push('<span><i style="background:' + color + '"></i>' + esc(name) + " size (dashed: demand)</span>");
  });
  svg.innerHTML = out.join("");
  document.getElementById("span").textContent = "last " + ago(span);
  document.getElementById("legend").innerHTML = legend.join("") + '<span data-samples="' + history.samples.length + '">' + history.samples.length + " samples</span>";
}

function renderProviders(pool, health) {
  var hp = (health && health.providers) || {};
  document.querySelector("#providers tbody").innerHTML = pool.providers.map(function (p) {
    var h = hp[p.name] || {};
    var cloud = h.cloud || {};
    var api = h.api || { calls: 0, errors: {} };
    var errs = 0;
    Object.keys(api.errors || {}).forEach(function (k) { errs += api.errors[k]; });
    var state = cloud.up === false ? '<span class="bad">down ' + esc(ago(Date.now() - cloud.since)) + "</span>" : h.reconciled ? '<span class="ok">up</span>' : '<span class="muted">not reconciled</span>';
    return '<tr data-provider="' + esc(p.name) + '"><td>' + esc(p.name) + "</td><td>" + state + "</td><td>" + p.maxServers + "</td><td>" + p.held + "</td><td>" + p.capacity +
      "</td><td>" + esc(num(p.quota && p.quota.instances)) + "</td><td>" + esc(num(p.launching)) + "</td><td>" + api.calls + '</td><td class="' + (errs ? "bad" : "") + '">' + errs + "</td></tr>";
  }).join("");
}

function renderImages(pool) {
  var body = pool.images.map(function (i) {
    var last = i.lastBuild ? (i.lastBuild.result === "ready" ? '<span class="ok">ready</span>' : '<span class="bad" title="' + esc(i.lastBuild.reason) + '">failed</span>') + " " + esc(ago(pool.time - i.lastBuild.time)) + " ago" : '<span class="muted">none</span>';
    var age = i.current ? ago(i.current.ageSeconds * 1000) : "";
    var old = i.current && i.current.ageSeconds > 2 * 86400;
    return "<tr><td>" + esc(i.provider) + "</td><td>" + esc(i.image) + "</td><td>" + esc(i.current ? i.current.version : "") + '</td><td class="' + (old ? "bad" : "") + '">' + esc(age) +
      "</td><td>" + last + (i.building ? ' <span class="muted">(building)</span>' : "") + "</td></tr>";
  });
  document.querySelector("#images tbody").innerHTML = body.length ? body.join("") : '<tr><td colspan="5" class="muted">no images built yet</td></tr>';
}

function renderEvents(ev, now) {
  document.querySelector("#events tbody").innerHTML = ev.events.map(function (e) {
    return "<tr><td>" + esc(ago(now - e.time)) + "</td><td>#" + e.objectId + (e.hostname ? " " + esc(e.hostname) : "") + '</td><td class="text">' + esc(e.fromState || "new") + " &rarr; " + esc(e.toState) +
      '</td><td class="text">' + esc(e.reason) + "</td></tr>";
  }).join("");
  var f = ev.failures.map(function (x) {
    return "<tr><td>" + esc(ago(now - x.time)) + "</td><td>" + esc(x.provider) + "</td><td>" + esc(x.label) + '</td><td class="bad">' + esc(x.code) + '</td><td class="text">' + esc(x.message) + "</td></tr>";
  });
  document.querySelector("#failures tbody").innerHTML = f.length ? f.join("") : '<tr><td colspan="5" class="muted">none</td></tr>';
}

function refresh() {
  return Promise.all([getJson("api/pool"), getJson("api/history"), getJson("api/events"), getJson("api/status"), getJson("health")]).then(function (r) {
    var pool = r[0], history = r[1], events = r[2], status = r[3], health = r[4];
    renderLabels(pool);
    renderChart(history, pool.labels.map(function (l) { return l.name; }));
    renderProviders(pool, health);
    renderImages(pool);
    renderEvents(events, pool.time);
    document.getElementById("deployment").textContent = "deployment " + (status.deploymentId || "?");
    document.getElementById("version").textContent = "v" + status.versions.nodepool;
    document.getElementById("totals").textContent = status.nodes.total + " nodes, " + status.nodes.ready + " ready" + (health.ok ? "" : "; " + health.reasons.join("; "));
    updates++;
    var live = document.getElementById("live");
    live.className = "";
    live.dataset.updates = String(updates);
    live.dataset.time = String(pool.time);
    live.textContent = "updated " + new Date(pool.time).toLocaleTimeString();
    document.getElementById("error").textContent = "";
  }).catch(function (err) {
    document.getElementById("live").className = "stale";
    document.getElementById("error").textContent = "update failed: " + err.message;
  });
}

function loop() { refresh().then(function () { setTimeout(loop, INTERVAL); }); }
loop();
</script>
</body>
</html>
`;

// The console's page: polls /api/snapshot every second and renders it. Every value is set
// as text (never as HTML): monikers and notes come from the chain.
"use strict";

const $ = (id) => document.getElementById(id);

function text(id, v) { $(id).textContent = v; }

function el(tag, content, cls) {
  const e = document.createElement(tag);
  if (content !== undefined && content !== null) e.textContent = String(content);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    tr.appendChild(c instanceof Node ? wrapTd(c) : el("td", c));
  }
  return tr;
}

function wrapTd(node) { const td = document.createElement("td"); td.appendChild(node); return td; }

function short(hex, n) { return hex && hex.length > n ? hex.slice(0, n) + "…" : (hex || ""); }

function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function versions(list) { return (list || []).map((r) => "v" + r.version).join(", ") || "none"; }

function renderNode(s) {
  const n = s.node;
  text("chain", n.chain_id ? "chain " + n.chain_id + " · node " + n.moniker : "");
  text("moniker", n.moniker + " (" + short(n.node_id, 12) + ")");
  text("height", n.height + (n.catching_up ? " (catching up)" : "") + (n.app_height ? " · app committed " + n.app_height : ""));
  text("app-hash", n.app_hash);
  const e = n.effective;
  text("effective", e ? "v" + e.version + " since height " + e.since_height + " · profile " + e.profile + " · sha256 " + short(e.code_sha256, 16) : "unknown");
  text("installed", versions(n.installed));
  text("profiles", (n.profiles || []).join(", "));
  const p = n.paused;
  $("paused").hidden = !p;
  const state = $("state");
  if (p) {
    state.textContent = "PAUSED: waiting for runtime v" + p.version;
    state.className = "no";
    text("paused-height", p.height);
    text("paused-reason", p.reason);
    text("paused-version", p.version);
    text("paused-sha", p.code_sha256);
    text("install-cmd", p.install);
    text("paused-for", duration(n.paused_seconds || 0));
  } else {
    state.textContent = "running";
    state.className = "yes";
  }
}

function renderNetwork(s) {
  const net = s.network;
  const r = net.readiness;
  $("readiness").hidden = !r;
  $("no-readiness").hidden = !!r;
  if (r) {
    const pct = r.total_power > 0 ? (100 * r.attested_power) / r.total_power : 0;
    const th = r.threshold_den > 0 ? (100 * r.threshold_num) / r.threshold_den : 0;
    text("readiness-version", "v" + r.version);
    text("readiness-text", r.attested_power + "/" + r.total_power + " power attested (" + pct.toFixed(0) + "%), threshold " +
      r.threshold_num + "/" + r.threshold_den + ": " + (r.ready ? "READY" : "not ready"));
    $("readiness-fill").style.width = pct + "%";
    $("readiness-fill").className = r.ready ? "ready" : "";
    $("readiness-mark").style.left = th + "%";
  }
  const body = $("validators").tBodies[0];
  body.replaceChildren();
  for (const v of net.validators || []) {
    const attested = el("span", versions(v.attested));
    attested.title = (v.attested || []).map((a) => "v" + a.version + " sha256 " + a.code_sha256).join("\n");
    const ready = r ? el("span", v.ready ? "yes" : "no", v.ready ? "yes" : "no") : el("span", "—");
    const addr = el("span", short(v.address, 10));
    addr.title = v.address;
    const op = el("span", short(v.operator, 10));
    op.title = v.operator;
    const tr = row([v.moniker || "", addr, op, v.power, attested, (v.profiles || []).join(", "), ready]);
    tr.dataset.moniker = v.moniker || "";
    body.appendChild(tr);
  }
}

function renderTimeline(s) {
  const t = s.timeline;
  const p = t.pending;
  $("pending").hidden = !p;
  $("no-pending").hidden = !!p;
  if (p) {
    text("pending-version", "v" + p.version);
    text("pending-height", p.start_height);
    const left = Math.max(0, p.blocks_left);
    const eta = t.seconds_per_block > 0 ? " (about " + duration(t.eta_seconds) + " at " + t.seconds_per_block.toFixed(2) + " s/block)" : "";
    let cd = "in " + left + " block" + (left === 1 ? "" : "s") + eta;
    if (left === 0) cd = s.node.paused ? "reached: this node is paused before it (see above)" : "switching now";
    text("countdown", cd);
  }
  const ol = $("history");
  ol.replaceChildren();
  for (const h of t.history || []) {
    const li = el("li", "height " + h.height + ": runtime v" + h.version + " (profile " + h.profile + ", sha256 " + short(h.code_sha256, 16) + ")");
    li.dataset.version = h.version;
    li.dataset.height = h.height;
    ol.appendChild(li);
  }
}

function renderBlocks(s) {
  const body = $("blocks").querySelector("tbody");
  body.replaceChildren();
  for (const b of s.blocks || []) {
    let failed = "…";
    if (b.results_known) {
      failed = (b.failed || []).map((f) => f.name + " (" + f.code + "): " + f.count).join(", ") || "none";
    }
    const tr = row([b.height, new Date(b.time).toLocaleTimeString(), b.app_version, b.txs, failed]);
    tr.dataset.height = b.height;
    body.appendChild(tr);
  }
}

function render(s) {
  const errs = s.errors || [];
  $("errors").hidden = errs.length === 0;
  text("errors", errs.join("\n"));
  renderNode(s);
  renderNetwork(s);
  renderTimeline(s);
  renderBlocks(s);
  const live = $("live");
  live.textContent = "live · " + new Date(s.time).toLocaleTimeString();
  live.className = errs.length ? "badge bad" : "badge ok";
}

async function poll() {
  try {
    const res = await fetch("api/snapshot", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (err) {
    const live = $("live");
    live.textContent = "console unreachable: " + err.message;
    live.className = "badge bad";
  }
  setTimeout(poll, 1000);
}

poll();

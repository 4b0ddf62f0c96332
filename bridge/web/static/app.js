// midibridge web page: talks only to the daemon's JSON API (docs/web.md). No build step, no dependencies.
"use strict";

const TRACK_COLOURS = ["#e4572e", "#29335c", "#17bebb", "#ffc914", "#76b041", "#a846a0", "#f28f3b", "#4d9de0",
  "#e15554", "#3bb273", "#7768ae", "#c8553d"];
const KEYS = ["C", "C#", "Db", "D", "Eb", "E", "F", "F#", "Gb", "G", "Ab", "A", "Bb", "B"];

const $ = (sel, root = document) => root.querySelector(sel);

async function api(path, options = {}) {
  const opts = { ...options, headers: { ...(options.headers || {}) } };
  if (opts.json !== undefined) {
    opts.method = opts.method || "POST";
    opts.headers["content-type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
    delete opts.json;
  }
  const response = await fetch(path, opts);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const reason = (data && data.error) || `${response.status} ${response.statusText}`;
    const err = new Error(reason);
    err.status = response.status;
    throw err;
  }
  return data;
}

function showMessage(text, kind = "error") {
  const box = $("#message");
  if (!text) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = false;
}

// ---------- status ----------

async function refreshStatus() {
  try {
    const s = await api("/api/status");
    const lib = s.library;
    const libText = lib.state === "ready" ? `library: ${lib.windows} windows (${lib.models.join(", ")})`
      : `library: ${lib.state}${lib.problem ? " – " + lib.problem : ""}`;
    const midi = s.midi.backend === "none" ? `MIDI: none (${s.midi.problem})` : `MIDI: ${s.midi.backend}`;
    const audio = s.audio.available ? "audio preview: on" : s.audio.problem;
    $("#status").textContent = `${libText} · ${midi} · ${Math.round(s.midi.tempo)} BPM · ${audio}`;
    $("#status").dataset.library = lib.state;
    setGenerateAvailable(s.generate.available);
    return s;
  } catch (e) {
    $("#status").textContent = `daemon unreachable: ${e.message}`;
    return null;
  }
}

// ---------- search ----------

function filters() {
  const out = {};
  const key = $("#f-key").value, mode = $("#f-mode").value, meter = $("#f-meter").value;
  const lo = $("#f-tempo-lo").value, hi = $("#f-tempo-hi").value, instrument = $("#f-instrument").value.trim();
  if (key) out.key = key;
  if (mode) out.mode = mode;
  if (meter) out.meter = meter;
  if (lo || hi) out.tempo = `${lo || 1}-${hi || 999}`;
  if (instrument) out.instrument = instrument;
  const k = parseInt($("#f-k").value, 10);
  if (k) out.k = k;
  return out;
}

async function searchText(event) {
  if (event) event.preventDefault();
  const text = $("#q").value.trim();
  await runSearch(() => api("/api/search", { json: { text, ...filters() } }), text ? `“${text}”` : "filters");
}

async function searchExample(file) {
  if (!file) return;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters())) params.set(k, v);
  const body = await file.arrayBuffer();
  await runSearch(() => api(`/api/search/example?${params}`, {
    method: "POST", headers: { "content-type": "audio/midi" }, body,
  }), `like ${file.name}`);
}

async function searchPhrase() {
  await runSearch(() => api("/api/search/phrase", { json: filters() }), "like the last played phrase");
}

async function runSearch(call, label) {
  showMessage("");
  $("#summary").textContent = "Searching…";
  $("#hits").replaceChildren();
  try {
    const result = await call();
    $("#summary").textContent = `${result.count} hit${result.count === 1 ? "" : "s"} for ${label} ` +
      `in ${result.milliseconds.toFixed(0)} ms`;
    renderHits(result.hits);
  } catch (e) {
    $("#summary").textContent = "";
    showMessage(e.message);
  }
}

function chip(text, cls) {
  const span = document.createElement("span");
  span.className = `chip ${cls}`;
  span.textContent = text;
  return span;
}

function renderHits(hits) {
  const list = $("#hits");
  const template = $("#hit-template");
  for (const hit of hits) {
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.id = hit.id;
    li.dataset.file = hit.file;
    $(".rank", li).textContent = `${hit.rank + 1}.`;
    $(".name", li).textContent = hit.name;
    $(".name", li).title = hit.file;
    $(".bars", li).textContent = `bars ${hit.bars[0]}–${hit.bars[1]} (${hit.bar_count})`;
    $(".score", li).textContent = `score ${hit.score.toFixed(3)}`;
    $(".key", li).textContent = hit.key;
    $(".tempo", li).textContent = `${Math.round(hit.tempo)} BPM${hit.tempo_word ? " " + hit.tempo_word : ""}`;
    $(".meter", li).textContent = hit.meter;
    $(".instruments", li).textContent = hit.instruments.join(", ");
    const constraints = $(".constraints", li);
    for (const m of hit.matched) constraints.append(chip(`✓ ${m}`, "matched"));
    for (const m of hit.missed) constraints.append(chip(`✗ ${m}`, "missed"));
    const download = $(".download", li);
    download.href = hit.urls.midi;
    download.setAttribute("download", hit.download_name);
    li.addEventListener("dragstart", (ev) => {
      // Chromium: dragging the card out of the window drops the .mid file (into a DAW or a folder).
      const url = new URL(hit.urls.midi, location.href).href;
      ev.dataTransfer.setData("DownloadURL", `audio/midi:${hit.download_name}:${url}`);
      ev.dataTransfer.setData("text/uri-list", url);
    });
    $(".roll-button", li).addEventListener("click", () => toggleRoll(li, hit));
    $(".listen-button", li).addEventListener("click", () => listen(li, hit));
    $(".play-button", li).addEventListener("click", () => playIntoDaw(li, hit));
    list.append(li);
  }
}

async function toggleRoll(li, hit) {
  const roll = $(".roll", li);
  if (!roll.hidden) { roll.hidden = true; return; }
  roll.hidden = false;
  if (roll.dataset.drawn) return;
  try {
    const data = await api(hit.urls.notes);
    drawRoll($(".roll-canvas", li), data);
    const legend = $(".legend", li);
    legend.replaceChildren();
    data.tracks.forEach((t, i) => {
      const item = chip(`${t.name || t.instrument} (${t.notes})`, "track");
      item.style.borderColor = TRACK_COLOURS[i % TRACK_COLOURS.length];
      legend.append(item);
    });
    roll.dataset.drawn = "1";
    roll.dataset.notes = String(data.count);
  } catch (e) {
    showMessage(`piano roll: ${e.message}`);
  }
}

function drawRoll(canvas, data) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.parentElement.clientWidth || 800;
  const height = 220;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.fillStyle = "#fbfbfd";
  g.fillRect(0, 0, width, height);
  const n = data.notes;
  if (!n.pitch.length) return;
  const lo = Math.min(...n.pitch) - 2, hi = Math.max(...n.pitch) + 2;
  const length = Math.max(data.length_quarters, ...n.start.map((s, i) => s + n.duration[i]));
  const x = (q) => (q / length) * width;
  const rowH = height / (hi - lo + 1);
  const y = (p) => height - (p - lo + 1) * rowH;
  // octave shading (C rows) and bar lines
  g.fillStyle = "#eef0f6";
  for (let p = lo; p <= hi; p++) if (p % 12 === 0) g.fillRect(0, y(p), width, rowH);
  g.strokeStyle = "#c9ccd8";
  g.lineWidth = 1;
  for (const b of data.bar_starts) {
    g.beginPath(); g.moveTo(Math.round(x(b)) + 0.5, 0); g.lineTo(Math.round(x(b)) + 0.5, height); g.stroke();
  }
  const colourOf = new Map(data.tracks.map((t, i) => [t.track, TRACK_COLOURS[i % TRACK_COLOURS.length]]));
  for (let i = 0; i < n.pitch.length; i++) {
    g.fillStyle = colourOf.get(n.track[i]) || "#333";
    g.globalAlpha = 0.45 + 0.55 * (n.velocity[i] / 127);
    g.fillRect(x(n.start[i]), y(n.pitch[i]), Math.max(2, x(n.duration[i]) - 1), Math.max(2, rowH - 1));
  }
  g.globalAlpha = 1;
}

function listen(li, hit) {
  const player = $(".player", li);
  player.hidden = false;
  if (!player.src) player.src = hit.urls.wav;
  $(".action-note", li).textContent = "rendering…";
  player.onerror = async () => {
    // the media element hides the reason: ask the API for it
    try { await api(hit.urls.wav); } catch (e) { $(".action-note", li).textContent = e.message; }
  };
  player.oncanplay = () => { $(".action-note", li).textContent = ""; };
  player.play().catch(() => { /* autoplay refused: the controls are there */ });
}

async function playIntoDaw(li, hit) {
  const note = $(".action-note", li);
  note.textContent = "scheduling…";
  try {
    const r = await api(hit.urls.play, { json: { at: "bar" } });
    note.textContent = `playing ${r.notes} notes into the DAW from beat ${r.start_beat.toFixed(2)}`;
    li.dataset.played = String(r.notes);
  } catch (e) {
    note.textContent = e.message;
  }
}

// ---------- library ----------

function histogram(title, counts) {
  const box = document.createElement("div");
  box.className = "histogram";
  const h = document.createElement("h3");
  h.textContent = title;
  box.append(h);
  const entries = Object.entries(counts || {}).slice(0, 16);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  for (const [label, value] of entries) {
    const row = document.createElement("div");
    row.className = "bar-row";
    const name = document.createElement("span");
    name.className = "bar-label";
    name.textContent = label;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * value / max).toFixed(1)}%`;
    const num = document.createElement("span");
    num.className = "bar-value";
    num.textContent = value;
    row.append(name, bar, num);
    box.append(row);
  }
  if (!entries.length) box.append(document.createTextNode("–"));
  return box;
}

async function loadLibrary(refresh = false) {
  $("#library-summary").textContent = "Loading…";
  try {
    const data = await api(`/api/library${refresh ? "?refresh=1" : ""}`);
    const s = data.stats;
    const reindex = $("#reindex");
    reindex.disabled = !data.index.available;
    $("#index-note").textContent = data.index.available ? "" : data.index.problem;
    if (!s) {
      $("#library-summary").textContent = `library ${data.state}: ${data.problem}`;
      return;
    }
    $("#library-summary").textContent = `${s.files} files, ${s.windows} windows, ${s.vectors} vectors ` +
      `(${s.model || "no model"}), ${s.skipped} skipped, ${s.capped} capped · folders: ${(s.roots || []).join(", ")}`;
    const hist = $("#histograms");
    hist.replaceChildren(histogram("Keys (files)", s.keys), histogram("Tempo (windows, BPM)", s.window_tempo_bpm),
      histogram("Meters (files)", s.meters), histogram("Instruments (notes)", s.instruments));
    const body = $("#issues tbody");
    body.replaceChildren();
    for (const issue of data.issues) {
      const tr = document.createElement("tr");
      for (const v of [issue.path, issue.status, issue.reason]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.append(td);
      }
      body.append(tr);
    }
    if (!data.issues.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 3;
      td.textContent = "none";
      tr.append(td);
      body.append(tr);
    }
  } catch (e) {
    $("#library-summary").textContent = `library: ${e.message}`;
  }
}

async function reindex() {
  const bar = $("#index-progress"), note = $("#index-note"), button = $("#reindex");
  try {
    await api("/api/library/index", { json: {} });
  } catch (e) {
    note.textContent = e.message;
    return;
  }
  button.disabled = true;
  bar.hidden = false;
  bar.removeAttribute("value");  // indeterminate until the indexer knows how many files there are
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    let s;
    try { s = await api("/api/library/index"); } catch (e) { note.textContent = e.message; break; }
    if (s.total > 0) { bar.max = s.total; bar.value = s.done; }
    note.textContent = `indexing: ${s.stage} ${s.total ? `${s.done}/${s.total}` : ""}`;
    if (!s.running) {
      const r = s.report;
      note.textContent = s.error ? `index failed: ${s.error}` : `indexed: ${r.files_seen} files seen, ` +
        `${r.added} added, ${r.updated} updated, ${r.removed} removed, ${r.unchanged} unchanged, ` +
        `${r.windows} windows in ${Number(r.seconds || 0).toFixed(1)} s`;
      note.dataset.done = "1";
      break;
    }
  }
  bar.hidden = true;
  button.disabled = false;
  const message = note.textContent;
  await loadLibrary(true);
  note.textContent = message;
}

// ---------- generate ----------

function setGenerateAvailable(available) {
  document.body.dataset.generate = available ? "available" : "placeholder";
  const form = $("#generate-form");
  form.classList.toggle("disabled-form", !available);
  form.setAttribute("aria-disabled", String(!available));
  for (const el of form.querySelectorAll("input, button")) el.disabled = !available;
  if (!available) $("#generate-note").textContent = "Generation from the page is coming with live generation.";
  else if (!$("#generate-note").dataset.set) {
    $("#generate-note").textContent = "Live generation: a prompt and name=value controls start a stream of " +
      "chords, bass and melody into the DAW from the next bar.";
    $("#generate-note").dataset.set = "1";
  }
}

function showGenerateState(info) {
  const dl = $("#generate-state");
  dl.replaceChildren();
  const state = info.state || {};
  for (const [k, v] of Object.entries(state)) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
}

async function loadGenerate() {
  try {
    const info = await api("/api/generate");
    setGenerateAvailable(info.available);
    showGenerateState(info);
  } catch (e) {
    $("#generate-note").textContent = e.message;
  }
}

async function generateStart(event) {
  event.preventDefault();
  const prompt = $("#g-prompt").value.trim();
  const controls = $("#g-controls").value.split(/\s+/).filter((w) => w.includes("="));
  try {
    const r = await api("/api/generate/start", { json: { prompt, controls } });
    $("#generate-note").textContent = `streaming from beat ${r.start_beat.toFixed(2)}`;
    showGenerateState(r);
  } catch (e) {
    $("#generate-note").textContent = e.message;
  }
}

async function generateStop() {
  try {
    const r = await api("/api/generate/stop", { json: {} });
    $("#generate-note").textContent = `stopped after ${r.bars_played} bars`;
    showGenerateState(r);
  } catch (e) {
    $("#generate-note").textContent = e.message;
  }
}

// ---------- tabs and wiring ----------

function selectTab(name) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(on));
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !on;
  }
  if (name === "library") loadLibrary();
  if (name === "generate") loadGenerate();
}

function setup() {
  const keySelect = $("#f-key");
  for (const mode of ["major", "minor"]) {
    for (const k of KEYS) {
      const o = document.createElement("option");
      o.textContent = `${k} ${mode}`;
      keySelect.append(o);
    }
  }
  $("#search-form").addEventListener("submit", searchText);
  $("#phrase-button").addEventListener("click", searchPhrase);
  $("#example-file").addEventListener("change", (e) => searchExample(e.target.files[0]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    searchExample(e.dataTransfer.files[0]);
  });
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => selectTab(tab.id.replace("tab-", "")));
  }
  $("#refresh-library").addEventListener("click", () => loadLibrary(true));
  $("#reindex").addEventListener("click", reindex);
  $("#generate-form").addEventListener("submit", generateStart);
  $("#g-stop").addEventListener("click", generateStop);
  refreshStatus();
  setInterval(refreshStatus, 5000);
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", setup);

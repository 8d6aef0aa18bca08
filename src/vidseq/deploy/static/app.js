// vidseq serve: upload one file to /api/predict and draw its top classes, frames and timeline.
"use strict";

const COLOURS = ["#2e6bd6", "#d9480f", "#12805c", "#9c36b5", "#c2255c", "#0b7285", "#e67700", "#5f3dc4"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let info = null;

function el(tag, attrs = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadInfo() {
  try {
    const response = await fetch("/api/info");
    info = await response.json();
    $("run-info").textContent = `run ${info.run}: ${info.model}, ${info.kind}, ${info.frames} frames of ${info.size} px, ` +
      `classes ${info.classes.join(", ")}`;
    $("limit").textContent = `up to ${info.max_upload_mb} MB`;
  } catch (e) {
    $("run-info").textContent = "the server did not answer; is vidseq serve running?";
  }
}

async function predict(file) {
  $("result").hidden = true;
  if (info && file.size > info.max_upload_mb * 1048576) {
    status(`${file.name} is larger than the server's limit of ${info.max_upload_mb} MB.`, true);
    return;
  }
  status(`predicting ${file.name}…`);
  const query = new URLSearchParams({ top: String(Math.min(5, info ? info.classes.length : 3)), frames: "1" });
  if (!info || info.kind === "video") {
    query.set("timeline", "1");
    query.set("window", $("window").value || "2");
  }
  const form = new FormData();
  form.append("file", file, file.name);
  let response, body;
  try {
    response = await fetch(`/api/predict?${query}`, { method: "POST", body: form });
    body = await response.json();
  } catch (e) {
    status(`the upload of ${file.name} failed (the server closed the connection); is the file too large?`, true);
    return;
  }
  if (!response.ok) {
    status(body.error || `the server answered ${response.status}.`, true);
    return;
  }
  status("");
  show(body);
}

function show(result) {
  $("result-file").textContent = result.file;
  drawBars(result.top);
  drawFrames(result.frames || []);
  drawTimeline(result.timeline);
  $("result").hidden = false;
}

function drawBars(top) {
  const list = $("bars");
  list.replaceChildren();
  for (const t of top) {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${(100 * t.probability).toFixed(1)}%`;
    fill.style.background = colourOf(t.class);
    const track = el("div", { class: "track" });
    track.append(fill);
    const item = el("li", { class: "bar" });
    item.append(el("span", { class: "name", title: t.class }, t.class), track,
      el("span", { class: "value" }, t.probability.toFixed(3)));
    list.append(item);
  }
}

function colourOf(name) {
  const k = info ? info.classes.indexOf(name) : -1;
  return COLOURS[Math.max(k, 0) % COLOURS.length];
}

function drawFrames(frames) {
  const strip = $("frames");
  strip.replaceChildren();
  for (const f of frames) {
    const figure = el("figure");
    figure.append(el("img", { src: f.image, alt: f.index === null ? "spectrogram window" : `frame ${f.index}` }));
    const caption = f.index === null ? "window" : `#${f.index} · ${f.time.toFixed(2)} s`;
    figure.append(el("figcaption", {}, caption));
    strip.append(figure);
  }
}

function drawTimeline(timeline) {
  const box = $("timeline-box");
  if (!timeline || timeline.times.length < 2) {
    box.hidden = !timeline;
    $("timeline-note").textContent = timeline ? "(the file is shorter than two windows: one window only)" : "";
    $("timeline").replaceChildren();
    $("legend").replaceChildren();
    return;
  }
  box.hidden = false;
  $("timeline-note").textContent = `(${timeline.times.length} windows of ${timeline.window} s)`;
  const svg = $("timeline");
  svg.replaceChildren();
  const [w, h, left, right, top, bottom] = [640, 200, 34, 10, 10, 24];
  const t0 = 0, t1 = timeline.times[timeline.times.length - 1] + timeline.window / 2;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (w - left - right);
  const y = (p) => top + (1 - p) * (h - top - bottom);
  svg.append(el("svg:line", { class: "axis", x1: left, y1: y(0), x2: w - right, y2: y(0) }));
  svg.append(el("svg:line", { class: "axis", x1: left, y1: y(0), x2: left, y2: y(1) }));
  for (const p of [0, 0.5, 1]) svg.append(el("svg:text", { x: 4, y: y(p) + 4 }, p.toFixed(1)));
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (k / 4) * (t1 - t0);
    const anchor = k === 0 ? "start" : k === 4 ? "end" : "middle";
    svg.append(el("svg:text", { x: x(t), y: h - 6, "text-anchor": anchor }, `${t.toFixed(1)} s`));
  }
  const legend = $("legend");
  legend.replaceChildren();
  timeline.classes.forEach((name, k) => {
    const colour = colourOf(name);
    const points = timeline.times.map((t, i) => `${x(t).toFixed(1)},${y(timeline.probabilities[i][k]).toFixed(1)}`);
    svg.append(el("svg:polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colour;
    const item = el("li");
    item.append(swatch, document.createTextNode(name));
    legend.append(item);
  });
}

function wire() {
  const drop = $("drop");
  $("file-input").addEventListener("change", (e) => {
    if (e.target.files.length) predict(e.target.files[0]);
    e.target.value = "";  // the same file again is a new choice
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) predict(e.dataTransfer.files[0]);
  });
}

wire();
loadInfo();

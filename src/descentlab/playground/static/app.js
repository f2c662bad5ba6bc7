// descentlab playground: the page. Plain JavaScript and canvas; everything comes from this server.
//
// Flow: GET /api/options fills the form; "Train" POSTs the settings to /api/runs and reads the
// run's Server-Sent Events: `start` (data points, grid window, optimizer labels), `progress`
// (new cost points, accuracies, the decision-boundary grid), `done` (one optimizer's results),
// `end` (the whole run).
//
// Also: drawn data (clicks on #draw-canvas, or a CSV file read here and sent as numbers), the
// quadratic mode (POST /api/quadratic: theory and predicted vs simulated errors), the whole
// setup kept in the address (#state=..., restored on load) and exported as config.toml
// (POST /api/export).
"use strict";

// One colour per optimizer slot (curves, cards, table) and one per class (boundaries, dots).
const OPTIMIZER_COLORS = ["#7b3fa0", "#d6336c", "#11998e", "#34495e"];
const CLASS_COLORS = ["#f59322", "#0877bd", "#2e9e44", "#9c6ade", "#c43c3c", "#8c6d31"];

const $ = (id) => document.getElementById(id);
let OPTIONS = null;
let run = null; // the run being shown: {id, epochs, grid, dataset, optimizers: [...], source, ended}
let chartDirty = false;
let MODE = "network";
// Drawn data: points in data coordinates, shown in a square window that fits them.
const drawn = { x: [], y: [], label: [], window: { x_min: -2, x_max: 2, y_min: -2, y_max: 2 } };
const LINK_POINTS_MAX_CHARS = 6000; // drawn points longer than this as JSON stay out of the link

// ------------------------------------------------------------------ helpers
function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
function fmt(x, digits = 4) {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toPrecision(digits);
}
function pct(x) {
  return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%";
}
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.appendChild(child);
  return node;
}
function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}
function decode(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// ------------------------------------------------------------------ the form
function fillSelect(select, names) {
  select.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
}

function numberInput(value, field, attrs = {}) {
  const input = el("input", { type: "number", "data-field": field, ...attrs });
  input.value = value;
  return input;
}

function optimizerSpec(name) {
  return OPTIONS.optimizers.find((o) => o.name === name);
}

function addOptimizerRow(spec) {
  const list = $("optimizer-list");
  const row = el("div", { class: "opt-row" });
  const select = el("select", { class: "opt-name", "aria-label": "Optimizer" });
  fillSelect(select, OPTIONS.optimizers.map((o) => o.name));
  select.value = spec.name;
  const lr = numberInput(spec.learning_rate, "", { class: "opt-lr", min: "0", step: "any" });
  const remove = el("button", { type: "button", class: "remove", title: "Remove this optimizer", text: "×" });
  const hypers = el("div", { class: "hypers" });
  row.append(
    el("div", { class: "opt-head" }, [
      el("label", { text: "Optimizer" }, [select]),
      el("label", { text: "Learning rate" }, [lr]),
      remove,
    ]),
    hypers,
  );
  const renderHypers = (given) => {
    hypers.replaceChildren(
      ...optimizerSpec(select.value).hyperparameters.map((h) => {
        const input = numberInput(given[h.name] ?? h.default, "", { class: "opt-hyper", step: "any" });
        input.dataset.name = h.name;
        return el("label", { text: h.name, title: h.help }, [input]);
      }),
    );
    renumberOptimizers();
  };
  select.addEventListener("change", () => renderHypers({}));
  remove.addEventListener("click", () => {
    row.remove();
    renumberOptimizers();
  });
  list.appendChild(row);
  renderHypers(spec.hyperparameters || {});
}

function renumberOptimizers() {
  const rows = [...document.querySelectorAll(".opt-row")];
  rows.forEach((row, i) => {
    row.style.setProperty("--c", OPTIMIZER_COLORS[i]);
    row.querySelector(".opt-name").dataset.field = `optimizers.${i}.name`;
    row.querySelector(".opt-lr").dataset.field = `optimizers.${i}.learning_rate`;
    row.querySelectorAll(".opt-hyper").forEach((input) => {
      input.dataset.field = `optimizers.${i}.hyperparameters.${input.dataset.name}`;
    });
    row.querySelector(".remove").disabled = rows.length === 1;
  });
  $("add-optimizer").disabled = rows.length >= OPTIONS.limits.max_optimizers;
}

function renderSchedule(given = {}) {
  const spec = OPTIONS.schedules.find((s) => s.name === $("schedule").value);
  $("schedule-settings").replaceChildren(
    ...spec.settings.map((s) => {
      const value = given[s.name] ?? s.default;
      const input = s.list
        ? el("input", { type: "text", "data-field": `schedule.${s.name}`, class: "schedule-setting" })
        : numberInput(value, `schedule.${s.name}`, { step: s.integer ? "1" : "any", class: "schedule-setting" });
      if (s.list) input.value = Array.isArray(value) ? value.join(", ") : "";
      input.dataset.name = s.name;
      input.dataset.integer = s.integer ? "1" : "";
      input.dataset.list = s.list ? "1" : "";
      return el("label", { text: s.name, title: s.help }, [input]);
    }),
  );
  $("schedule-help").textContent = spec.formula + " (alpha0: each optimizer's learning rate).";
}

function renderDatasetHelp() {
  const isDrawn = $("dataset").value === "drawn";
  const d = OPTIONS.datasets.find((x) => x.name === $("dataset").value);
  $("dataset-help").textContent = isDrawn ? OPTIONS.drawn : d.description;
  $("draw-panel").hidden = !isDrawn;
  document.querySelectorAll(".generated-only").forEach((n) => (n.hidden = isDrawn));
  if (isDrawn) drawPoints();
}

function applySettings(s) {
  $("dataset").value = s.dataset;
  renderDatasetHelp();
  for (const key of ["n_samples", "noise", "test_fraction", "epochs", "batch_size", "seed", "pace_seconds"]) {
    $(key).value = s[key] ?? "";
  }
  if (s.noise === null || s.noise === undefined) {
    const d = OPTIONS.datasets.find((x) => x.name === s.dataset) || OPTIONS.datasets[0];
    $("noise").value = d.noise;
  }
  $("loss").value = s.loss || "cross_entropy";
  $("data_seed").value = s.data_seed ?? "";
  $("hidden").value = s.hidden.join(", ");
  $("activation").value = s.activation;
  $("schedule").value = s.schedule.name;
  renderSchedule(s.schedule);
  $("optimizer-list").replaceChildren();
  s.optimizers.forEach(addOptimizerRow);
}

function readNumber(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

// The request body; numbers the browser cannot parse become null and the server names them.
function readSettings() {
  const hiddenText = $("hidden").value.trim();
  const hidden = hiddenText === "" ? [] : hiddenText.split(/[\s,]+/).filter(Boolean).map(Number);
  const schedule = { name: $("schedule").value };
  document.querySelectorAll(".schedule-setting").forEach((input) => {
    const text = input.value.trim();
    if (input.dataset.list) schedule[input.dataset.name] = text === "" ? null : text.split(/[\s,]+/).filter(Boolean).map(Number);
    else schedule[input.dataset.name] = text === "" ? null : Number(text);
  });
  const optimizers = [...document.querySelectorAll(".opt-row")].map((row) => {
    const hyperparameters = {};
    row.querySelectorAll(".opt-hyper").forEach((input) => {
      hyperparameters[input.dataset.name] = input.value.trim() === "" ? null : Number(input.value);
    });
    return {
      name: row.querySelector(".opt-name").value,
      learning_rate: Number(row.querySelector(".opt-lr").value),
      hyperparameters,
    };
  });
  const out = {
    dataset: $("dataset").value,
    n_samples: readNumber("n_samples"),
    noise: readNumber("noise"),
    data_seed: readNumber("data_seed"),
    test_fraction: readNumber("test_fraction"),
    hidden,
    activation: $("activation").value,
    loss: $("loss").value,
    epochs: readNumber("epochs"),
    batch_size: readNumber("batch_size"),
    seed: readNumber("seed"),
    pace_seconds: readNumber("pace_seconds"),
    schedule,
    optimizers,
  };
  if (out.dataset === "drawn") {
    out.points = { x: drawn.x.slice(), y: drawn.y.slice(), label: drawn.label.slice() };
  }
  return out;
}

function markInvalid(field) {
  document.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
  if (!field) return;
  // The input for this field, or for its nearest parent path (hidden.1 -> hidden).
  const parts = field.split(".");
  while (parts.length) {
    const node = document.querySelector(`[data-field="${parts.join(".")}"]`);
    if (node) {
      node.classList.add("invalid");
      node.focus();
      return;
    }
    parts.pop();
  }
}

// ------------------------------------------------------------------ drawing
function drawBoundary(opt) {
  const canvas = opt.canvas;
  const ctx = canvas.getContext("2d");
  const { grid, dataset } = run;
  const W = canvas.width;
  const H = canvas.height;
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 0, W, H);
  if (opt.classes) {
    const n = grid.size;
    const k = dataset.n_classes;
    const image = opt.image || (opt.image = new ImageData(n, n));
    const colours = CLASS_COLORS.map(hexToRgb);
    for (let i = 0; i < n * n; i++) {
      const c = colours[opt.classes[i] % colours.length];
      // 1/k confidence (a coin toss) is white; certainty is a strong tint of the class colour.
      const sure = Math.max(0, Math.min(1, (opt.confidence[i] / 255 - 1 / k) / (1 - 1 / k)));
      const t = 0.12 + 0.6 * sure;
      image.data[4 * i] = 255 + (c[0] - 255) * t;
      image.data[4 * i + 1] = 255 + (c[1] - 255) * t;
      image.data[4 * i + 2] = 255 + (c[2] - 255) * t;
      image.data[4 * i + 3] = 255;
    }
    const off = opt.offscreen || (opt.offscreen = el("canvas", { width: n, height: n }));
    off.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, W, H);
  }
  const sx = (x) => ((x - grid.x_min) / (grid.x_max - grid.x_min)) * W;
  const sy = (y) => ((grid.y_max - y) / (grid.y_max - grid.y_min)) * H;
  const drawPoints = (pts, hollow) => {
    if (!pts) return;
    for (let i = 0; i < pts.x.length; i++) {
      const colour = CLASS_COLORS[pts.label[i] % CLASS_COLORS.length];
      ctx.beginPath();
      ctx.arc(sx(pts.x[i]), sy(pts.y[i]), hollow ? 3.2 : 3, 0, 2 * Math.PI);
      ctx.fillStyle = hollow ? "#ffffff" : colour;
      ctx.fill();
      ctx.lineWidth = hollow ? 1.6 : 0.8;
      ctx.strokeStyle = hollow ? colour : "#ffffff";
      ctx.stroke();
    }
  };
  drawPoints(dataset.train, false);
  drawPoints(dataset.test, true);
}

function niceTicks(lo, hi, count) {
  const span = hi - lo;
  const step0 = Math.pow(10, Math.floor(Math.log10(span / count)));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= count) || 10 * step0;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

// Log-scale ticks between 10^lo and 10^hi: 1-2-5 steps (all of 1..9 when the range is short).
function logTicks(lo, hi) {
  const pick = (mantissas) => {
    const ticks = [];
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      for (const m of mantissas) {
        const v = m * Math.pow(10, k);
        if (Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9) ticks.push(+v.toPrecision(6));
      }
    }
    return ticks;
  };
  let ticks = pick([1, 2, 5]);
  if (ticks.length > 8) ticks = pick([1]);
  if (ticks.length < 3) ticks = pick([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return ticks;
}

function drawCostChart() {
  chartDirty = false;
  const canvas = $("cost-chart");
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  const pad = { left: 58, right: 16, top: 12, bottom: 40 };
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, H);
  if (!run) return;
  const log = $("log-scale").checked;
  let top = 0;
  let bottom = Infinity;
  for (const opt of run.optimizers) {
    // The scale follows the starting costs, so a diverging run does not squash the others.
    if (opt.n > 0 && Number.isFinite(opt.costs[0])) top = Math.max(top, opt.costs[0] * 1.1);
    for (let e = 0; e < opt.n; e++) if (opt.costs[e] > 0) bottom = Math.min(bottom, opt.costs[e]);
  }
  if (top <= 0) top = 1;
  if (!Number.isFinite(bottom) || bottom >= top) bottom = top / 10;
  const lo = log ? Math.log10(bottom * 0.9) : 0;
  const hi = log ? Math.log10(top) : top;
  const px = (e) => pad.left + (e / Math.max(1, run.epochs - 1)) * (W - pad.left - pad.right);
  const py = (c) => {
    const v = log ? Math.log10(Math.max(c, 1e-300)) : c;
    const f = (v - lo) / (hi - lo);
    return pad.top + (1 - Math.max(0, Math.min(1, f))) * (H - pad.top - pad.bottom);
  };
  // Axes, grid lines and labels.
  ctx.font = "12px system-ui, sans-serif";
  ctx.strokeStyle = "#e6e8eb";
  ctx.fillStyle = "#5f6673";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const yTicks = log ? logTicks(lo, hi) : niceTicks(0, top, 5);
  for (const t of yTicks) {
    const y = py(t);
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(W - pad.right, y);
    ctx.stroke();
    ctx.fillText(String(+t.toPrecision(3)), pad.left - 6, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(0, Math.max(1, run.epochs - 1), 8)) {
    ctx.fillText(String(t), px(t), H - pad.bottom + 6);
  }
  ctx.strokeStyle = "#8a9099";
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, H - pad.bottom);
  ctx.lineTo(W - pad.right, H - pad.bottom);
  ctx.stroke();
  ctx.fillText("epoch", (pad.left + W - pad.right) / 2, H - 16);
  ctx.save();
  ctx.translate(14, (pad.top + H - pad.bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  const lossName = run.dataset && run.dataset.loss === "mse" ? "half squared error" : "cross-entropy";
  ctx.fillText(`cost J (${lossName})`, 0, -6);
  ctx.restore();
  // One curve per optimizer, in its colour.
  ctx.lineWidth = 2.5;
  ctx.lineJoin = "round";
  for (const opt of run.optimizers) {
    ctx.strokeStyle = opt.color;
    ctx.beginPath();
    let pen = false;
    for (let e = 0; e < opt.n; e++) {
      const c = opt.costs[e];
      if (!Number.isFinite(c)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(px(e), py(c));
      else ctx.moveTo(px(e), py(c));
      pen = true;
    }
    ctx.stroke();
  }
  canvas.dataset.updates = String(Number(canvas.dataset.updates || 0) + 1);
}

function requestChart() {
  if (!chartDirty) {
    chartDirty = true;
    requestAnimationFrame(drawCostChart);
  }
}

// ------------------------------------------------------------------ the run
function clearResults() {
  $("cards").replaceChildren(el("p", { class: "empty", text: "Press Train to start." }));
  $("legend").replaceChildren();
  $("class-legend").replaceChildren();
  $("results-table").querySelector("tbody").replaceChildren();
  run = null;
  delete document.body.dataset.runId;
  delete document.body.dataset.runStatus;
  $("cost-chart").dataset.updates = "0";
  drawCostChart();
}

function onStart(data) {
  run.epochs = data.epochs;
  run.grid = data.grid;
  run.dataset = data.dataset;
  run.optimizers = data.optimizers.map((o, i) => ({
    label: o.label,
    color: OPTIMIZER_COLORS[i],
    costs: new Float64Array(data.epochs).fill(NaN),
    n: 0,
  }));
  const cards = run.optimizers.map((opt, i) => {
    opt.canvas = el("canvas", { width: "280", height: "280", class: "boundary", "data-optimizer": String(i) });
    opt.canvas.dataset.updates = "0";
    opt.stats = el("div", { class: "stats", text: "waiting…" });
    return el("div", { class: "card", style: `--c: ${opt.color}` }, [
      el("h3", { text: opt.label }),
      opt.canvas,
      opt.stats,
    ]);
  });
  $("cards").replaceChildren(...cards);
  run.optimizers.forEach(drawBoundary);
  $("legend").replaceChildren(
    ...run.optimizers.map((opt) =>
      el("span", {}, [el("i", { class: "swatch", style: `--c: ${opt.color}` }), document.createTextNode(opt.label)]),
    ),
  );
  const ds = data.dataset;
  $("class-legend").replaceChildren(
    document.createTextNode("Colours:"),
    ...ds.classes.map((name, k) =>
      el("span", {}, [
        el("i", { class: "swatch", style: `--c: ${CLASS_COLORS[k % CLASS_COLORS.length]}` }),
        document.createTextNode(`class ${name}`),
      ]),
    ),
  );
  setStatus(
    `Training on ${ds.name}: ${ds.n_train} training and ${ds.n_test} test examples, ` +
      `network ${ds.layer_dims.join("–")}.`,
  );
  requestChart();
}

function onProgress(data) {
  const opt = run.optimizers[data.optimizer];
  data.cost.forEach((c, j) => {
    opt.costs[data.first_epoch + j] = c === null ? NaN : c;
  });
  opt.n = Math.max(opt.n, data.epoch + 1);
  opt.classes = decode(data.grid.classes);
  opt.confidence = decode(data.grid.confidence);
  drawBoundary(opt);
  opt.canvas.dataset.updates = String(Number(opt.canvas.dataset.updates) + 1);
  const last = opt.costs[opt.n - 1];
  opt.stats.textContent =
    `epoch ${opt.n} / ${run.epochs} · cost ${fmt(last)} · ` +
    `train ${pct(data.train_accuracy)}` +
    (data.test_accuracy === null ? "" : ` · test ${pct(data.test_accuracy)}`);
  requestChart();
}

function onDone(r) {
  const opt = run.optimizers[r.optimizer];
  const row = el("tr", { "data-optimizer": String(r.optimizer) }, [
    el("td", {}, [el("i", { class: "swatch", style: `--c: ${opt.color}` }), document.createTextNode(r.label)]),
    el("td", { text: r.status, title: r.message || "" }),
    el("td", { class: "epochs", text: r.epochs_run === undefined ? "–" : String(r.epochs_run) }),
    el("td", { class: "cost", text: fmt(r.final_cost) }),
    el("td", { class: "train", text: pct(r.train_accuracy) }),
    el("td", { class: "test", text: pct(r.test_accuracy) }),
    el("td", { text: r.seconds === undefined ? "–" : r.seconds.toFixed(2) }),
  ]);
  const body = $("results-table").querySelector("tbody");
  const rows = [...body.children, row].sort((a, b) => a.dataset.optimizer - b.dataset.optimizer);
  body.replaceChildren(...rows);
  if (r.status === "diverged" || r.status === "failed") opt.stats.textContent = r.message;
}

function onEnd(data) {
  run.ended = true;
  run.source.close();
  document.body.dataset.runStatus = data.status;
  setRunning(false);
  const seconds = Math.max(...data.results.map((r) => r.seconds || 0));
  if (data.status === "completed") setStatus(`Finished in ${seconds.toFixed(1)} s.`);
  else setStatus(data.message, data.status === "failed");
}

function setRunning(on) {
  $("train").disabled = on;
  $("stop").disabled = !on;
}

async function startTraining() {
  markInvalid(null);
  const settings = readSettings();
  if (settings.hidden.some((u) => !Number.isInteger(u))) {
    setStatus("Hidden layers: write whole numbers separated by commas, e.g. 8, 8.", true);
    markInvalid("hidden");
    return;
  }
  stopRun();
  clearResults();
  setRunning(true);
  setStatus("Starting…");
  let response;
  try {
    response = await fetch("/api/runs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(settings),
    });
  } catch (err) {
    setRunning(false);
    setStatus("The playground server cannot be reached: " + err, true);
    return;
  }
  const body = await response.json();
  if (!response.ok) {
    setRunning(false);
    setStatus(body.error || `Error ${response.status}`, true);
    markInvalid(body.field);
    return;
  }
  run = { id: body.id, optimizers: [], ended: false };
  document.body.dataset.runId = body.id;
  const source = new EventSource(body.events);
  run.source = source;
  const on = (name, handler) =>
    source.addEventListener(name, (event) => {
      if (run && run.source === source) handler(JSON.parse(event.data));
    });
  on("start", onStart);
  on("progress", onProgress);
  on("done", onDone);
  on("end", onEnd);
  source.onerror = () => {
    if (run && run.source === source && !run.ended) {
      source.close();
      setRunning(false);
      setStatus("Lost the connection to the server; the training was stopped.", true);
    }
  };
}

function stopRun() {
  if (run && !run.ended) {
    fetch(`/api/runs/${run.id}/stop`, { method: "POST" });
    setStatus("Stopping…");
  }
}

// ------------------------------------------------------------------ drawn data
function fitWindow(xs, ys) {
  if (!xs.length) return { x_min: -2, x_max: 2, y_min: -2, y_max: 2 };
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const half = Math.max(x1 - x0, y1 - y0, 1e-9) * 0.6;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return { x_min: cx - half, x_max: cx + half, y_min: cy - half, y_max: cy + half };
}

function drawPoints() {
  const canvas = $("draw-canvas");
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  const w = drawn.window;
  const sx = (x) => ((x - w.x_min) / (w.x_max - w.x_min)) * W;
  const sy = (y) => ((w.y_max - y) / (w.y_max - w.y_min)) * H;
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = "#e0e3e8";
  ctx.beginPath();
  ctx.moveTo(sx(0), 0);
  ctx.lineTo(sx(0), H);
  ctx.moveTo(0, sy(0));
  ctx.lineTo(W, sy(0));
  ctx.stroke();
  for (let i = 0; i < drawn.x.length; i++) {
    ctx.beginPath();
    ctx.arc(sx(drawn.x[i]), sy(drawn.y[i]), 4, 0, 2 * Math.PI);
    ctx.fillStyle = CLASS_COLORS[drawn.label[i] % CLASS_COLORS.length];
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
  }
  const classes = new Set(drawn.label).size;
  $("point-count").textContent = `${drawn.x.length} point(s), ${classes} class(es)`;
  canvas.dataset.points = String(drawn.x.length);
}

function setPoints(xs, ys, labels, fit) {
  drawn.x = xs;
  drawn.y = ys;
  drawn.label = labels;
  if (fit) drawn.window = fitWindow(xs, ys);
  drawPoints();
  saveToUrl();
}

// Six significant digits: enough for any drawing, and 1000 points stay far below the body limit.
const round6 = (v) => Number(v.toPrecision(6));

function onDrawClick(event) {
  if (drawn.x.length >= OPTIONS.limits.max_points) {
    setStatus(`At most ${OPTIONS.limits.max_points} points; clear some first.`, true);
    return;
  }
  const canvas = $("draw-canvas");
  const rect = canvas.getBoundingClientRect();
  const w = drawn.window;
  const x = w.x_min + ((event.clientX - rect.left) / rect.width) * (w.x_max - w.x_min);
  const y = w.y_max - ((event.clientY - rect.top) / rect.height) * (w.y_max - w.y_min);
  drawn.x.push(round6(x));
  drawn.y.push(round6(y));
  drawn.label.push(Number($("draw-class").value));
  drawPoints();
  saveToUrl();
}

// A CSV of two feature columns and a label column (a header row is skipped); labels that are
// not whole numbers 0..5 are numbered in order of appearance. Throws an Error saying what is wrong.
function parseCsv(text) {
  const rows = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  const cells = rows.map((line) => line.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, "")));
  if (cells.length && cells[0].slice(0, 2).some((c) => c === "" || Number.isNaN(Number(c)))) cells.shift();
  const max = OPTIONS.limits.max_points;
  if (cells.length === 0) throw new Error("the file has no rows of numbers");
  if (cells.length > max) throw new Error(`the file has ${cells.length} rows; the page takes at most ${max}`);
  const xs = [];
  const ys = [];
  const raw = [];
  cells.forEach((row, i) => {
    if (row.length < 3) throw new Error(`row ${i + 1} has ${row.length} column(s); expected x, y, label`);
    const [x, y] = [Number(row[0]), Number(row[1])];
    const limit = OPTIONS.limits.max_coordinate;
    if (!Number.isFinite(x) || !Number.isFinite(y) || Math.abs(x) > limit || Math.abs(y) > limit) {
      throw new Error(`row ${i + 1}: x and y must be numbers within ±${limit}; got ${row[0]}, ${row[1]}`);
    }
    xs.push(round6(x));
    ys.push(round6(y));
    raw.push(row[2]);
  });
  const maxClasses = OPTIONS.limits.max_classes;
  const whole = raw.every((v) => /^\d+$/.test(v) && Number(v) < maxClasses);
  const names = [...new Set(raw)];
  if (!whole && names.length > maxClasses) {
    throw new Error(`the labels name ${names.length} classes; the page takes at most ${maxClasses}`);
  }
  const labels = raw.map((v) => (whole ? Number(v) : names.indexOf(v)));
  return { xs, ys, labels };
}

function loadCsvFile() {
  const file = $("csv-file").files[0];
  if (!file) return;
  file.text().then((text) => {
    try {
      const { xs, ys, labels } = parseCsv(text);
      setPoints(xs, ys, labels, true);
      setStatus(`Loaded ${xs.length} points from ${file.name}.`);
    } catch (err) {
      setStatus(`Cannot use ${file.name}: ${err.message}.`, true);
    }
    $("csv-file").value = "";
  });
}

function downloadText(text, name, type) {
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
}

function initDrawing() {
  $("draw-canvas").addEventListener("click", onDrawClick);
  $("clear-points").addEventListener("click", () => setPoints([], [], [], true));
  $("csv-file").addEventListener("change", loadCsvFile);
  $("download-csv").addEventListener("click", () => {
    const lines = drawn.x.map((x, i) => `${x},${drawn.y[i]},${drawn.label[i]}`);
    downloadText(["x,y,label", ...lines].join("\n") + "\n", "points.csv", "text/csv");
  });
}

// ------------------------------------------------------------------ the address and the export
function quadraticSettings() {
  const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  return {
    kappa: num("q-kappa"),
    angle: num("q-angle"),
    learning_rate: num("q-lr"),
    beta: num("q-beta"),
    steps: num("q-steps"),
  };
}

function saveToUrl() {
  if (!OPTIONS) return;
  const settings = readSettings();
  delete settings.points;
  const state = { mode: MODE, settings, quadratic: quadraticSettings() };
  let note = "";
  if (settings.dataset === "drawn" && drawn.x.length) {
    const points = drawn.x.map((x, i) => [x, drawn.y[i], drawn.label[i]]);
    if (JSON.stringify(points).length <= LINK_POINTS_MAX_CHARS) state.points = points;
    else note = `The ${drawn.x.length} drawn points are too many for the link: they are not kept in it (Download CSV keeps them).`;
  }
  $("link-note").textContent = note;
  history.replaceState(null, "", "#state=" + encodeURIComponent(JSON.stringify(state)));
}

// Settings from a link are untrusted: unknown names are refused here, numbers by the server.
function checkedSettings(s) {
  const names = (list) => list.map((o) => o.name || o);
  const d = { ...OPTIONS.defaults, ...s };
  const ok =
    [...names(OPTIONS.datasets), "drawn"].includes(d.dataset) &&
    OPTIONS.activations.includes(d.activation) &&
    OPTIONS.losses.includes(d.loss || "cross_entropy") &&
    Array.isArray(d.hidden) &&
    d.hidden.length <= OPTIONS.limits.max_hidden_layers &&
    d.schedule && names(OPTIONS.schedules).includes(d.schedule.name) &&
    Array.isArray(d.optimizers) &&
    d.optimizers.length >= 1 &&
    d.optimizers.length <= OPTIONS.limits.max_optimizers &&
    d.optimizers.every((o) => o && names(OPTIONS.optimizers).includes(o.name));
  if (!ok) throw new Error("unknown names in the link");
  return d;
}

function restoreFromUrl() {
  const hash = location.hash;
  if (!hash.startsWith("#state=")) return;
  try {
    const state = JSON.parse(decodeURIComponent(hash.slice("#state=".length)));
    if (state.settings) applySettings(checkedSettings(state.settings));
    if (Array.isArray(state.points)) {
      const pts = state.points
        .slice(0, OPTIONS.limits.max_points)
        .filter((p) => Array.isArray(p) && p.length === 3 && p.every(Number.isFinite));
      setPoints(pts.map((p) => p[0]), pts.map((p) => p[1]), pts.map((p) => p[2]), true);
    }
    if (state.quadratic) {
      const q = state.quadratic;
      for (const [id, key] of [["q-kappa", "kappa"], ["q-angle", "angle"], ["q-lr", "learning_rate"],
                               ["q-beta", "beta"], ["q-steps", "steps"]]) {
        if (Number.isFinite(q[key])) $(id).value = q[key];
      }
    }
    setMode(state.mode === "quadratic" ? "quadratic" : "network");
  } catch (err) {
    applySettings(OPTIONS.defaults);
    setStatus("The link's settings could not be read; the defaults are shown.", true);
  }
}

function shareLink() {
  saveToUrl();
  const box = $("share-link");
  box.hidden = false;
  box.value = location.href;
  box.select();
  if (navigator.clipboard) navigator.clipboard.writeText(location.href).catch(() => {});
  setStatus("This page's address now holds every setting: the link above reopens it.");
}

async function exportConfig() {
  markInvalid(null);
  const response = await fetch("/api/export", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(readSettings()),
  });
  if (!response.ok) {
    const body = await response.json();
    setStatus(body.error || `Error ${response.status}`, true);
    markInvalid(body.field);
    return;
  }
  downloadText(await response.text(), "config.toml", "application/toml");
  setStatus("Saved config.toml: rerun it with descentlab compare --config config.toml");
}

// ------------------------------------------------------------------ the quadratic mode
const Q_COLORS = ["#7b3fa0", "#d6336c", "#11998e", "#e67700"];
let quadratic = null; // the last answer of /api/quadratic
let quadraticTimer = null;

function setMode(mode) {
  MODE = mode;
  document.body.dataset.mode = mode;
  $("controls").hidden = mode !== "network";
  $("results").hidden = mode !== "network";
  $("quadratic").hidden = mode !== "quadratic";
  for (const b of document.querySelectorAll("button.mode")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  if (mode === "quadratic") runQuadratic();
  saveToUrl();
}

function initQuadratic() {
  const defaults = { "q-kappa": 10, "q-angle": 0, "q-lr": 0.1, "q-beta": 0.5, "q-steps": 100 };
  for (const [id, v] of Object.entries(defaults)) $(id).value = v;
  $("q-controls").addEventListener("input", () => {
    clearTimeout(quadraticTimer);
    quadraticTimer = setTimeout(runQuadratic, 250);
  });
}

async function runQuadratic() {
  const response = await fetch("/api/quadratic", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...quadraticSettings(), x0: [1, 1] }),
  });
  const body = await response.json();
  document.querySelectorAll("#q-controls .invalid").forEach((n) => n.classList.remove("invalid"));
  if (!response.ok) {
    $("q-status").textContent = body.error;
    $("q-status").classList.add("error");
    const node = document.querySelector(`#q-controls [data-field="${(body.field || "").split(".")[0]}"]`);
    if (node) node.classList.add("invalid");
    return;
  }
  $("q-status").classList.remove("error");
  quadratic = body;
  renderQuadratic();
}

function renderQuadratic() {
  const t = quadratic.theory;
  $("q-status").textContent =
    `κ = ${fmt(t.kappa)}: eigenvalues ${fmt(t.lambda_min)} and ${fmt(t.lambda_max)}; ` +
    `gradient descent is stable for α < 2 / λmax = ${fmt(t.gd_stable_below)}.` +
    (t.gd_rate >= 1 ? ` Your α gives gradient descent a rate ${fmt(t.gd_rate)} ≥ 1: it diverges.` : "") +
    (t.momentum_rate >= 1 ? ` With your β, momentum's rate is ${fmt(t.momentum_rate)} ≥ 1: it diverges.` : "");
  $("q-theory").querySelector("tbody").replaceChildren(
    ...quadratic.runs.map((r, i) =>
      el("tr", { "data-run": r.name }, [
        el("td", {}, [el("i", { class: "swatch", style: `--c: ${Q_COLORS[i]}` }), document.createTextNode(r.name)]),
        el("td", { class: "lr", text: fmt(r.learning_rate, 6) }),
        el("td", { class: "beta", text: fmt(r.beta, 6) }),
        el("td", { class: "rate", text: fmt(r.rate, 6) }),
        el("td", { class: "measured", text: fmt(r.measured_rate, 6) }),
      ]),
    ),
  );
  $("q-legend").replaceChildren(
    ...quadratic.runs.map((r, i) =>
      el("span", {}, [el("i", { class: "swatch", style: `--c: ${Q_COLORS[i]}` }), document.createTextNode(r.name)]),
    ),
  );
  drawQuadraticChart();
  document.body.dataset.quadratic = String(Number(document.body.dataset.quadratic || 0) + 1);
}

function drawQuadraticChart() {
  const canvas = $("q-chart");
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  const pad = { left: 58, right: 16, top: 12, bottom: 40 };
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, H);
  const steps = quadratic.settings.steps;
  // From a decade above the starting error down to the smallest error (at most 18 decades);
  // a diverging run leaves through the top.
  const hi = Math.log10(quadratic.runs[0].predicted[0]) + 1;
  let lo = hi;
  for (const r of quadratic.runs) for (const v of [...r.predicted, ...r.simulated]) if (v > 0) lo = Math.min(lo, Math.log10(v));
  lo = Math.max(lo, hi - 18);
  const px = (k) => pad.left + (k / steps) * (W - pad.left - pad.right);
  const py = (v) => {
    const f = (Math.log10(Math.max(v, 1e-300)) - lo) / (hi - lo);
    return pad.top + (1 - Math.max(0, Math.min(1, f))) * (H - pad.top - pad.bottom);
  };
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#5f6673";
  ctx.strokeStyle = "#e6e8eb";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const every = Math.max(1, Math.ceil((hi - lo) / 8)); // at most ~8 labelled decades
  for (let d = Math.ceil(lo); d <= Math.floor(hi); d += every) {
    const t = Math.pow(10, d);
    ctx.beginPath();
    ctx.moveTo(pad.left, py(t));
    ctx.lineTo(W - pad.right, py(t));
    ctx.stroke();
    ctx.fillText(t.toExponential(0), pad.left - 6, py(t));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(0, steps, 8)) ctx.fillText(String(t), px(t), H - pad.bottom + 6);
  ctx.fillText("step k", (pad.left + W - pad.right) / 2, H - 16);
  ctx.lineWidth = 2;
  quadratic.runs.forEach((r, i) => {
    for (const [values, dash] of [[r.simulated, []], [r.predicted, [6, 5]]]) {
      ctx.setLineDash(dash);
      ctx.strokeStyle = Q_COLORS[i];
      ctx.beginPath();
      let pen = false;
      values.forEach((v, k) => {
        if (!(v > 0)) {
          pen = false;
          return;
        }
        if (pen) ctx.lineTo(px(k), py(v));
        else ctx.moveTo(px(k), py(v));
        pen = true;
      });
      ctx.stroke();
    }
  });
  ctx.setLineDash([]);
}

// ------------------------------------------------------------------ start-up
async function init() {
  const response = await fetch("/api/options");
  OPTIONS = await response.json();
  fillSelect($("dataset"), [...OPTIONS.datasets.map((d) => d.name), "drawn"]);
  fillSelect($("activation"), OPTIONS.activations);
  fillSelect($("loss"), OPTIONS.losses);
  $("draw-class").replaceChildren(
    ...CLASS_COLORS.slice(0, OPTIONS.limits.max_classes).map((c, k) =>
      el("option", { value: String(k), text: `class ${k}`, style: `color: ${c}` }),
    ),
  );
  fillSelect($("schedule"), OPTIONS.schedules.map((s) => s.name));
  $("dataset").addEventListener("change", () => {
    const d = OPTIONS.datasets.find((x) => x.name === $("dataset").value);
    if (d) {
      $("noise").value = d.noise;
      $("n_samples").value = d.n_samples;
    }
    renderDatasetHelp();
  });
  initDrawing();
  initQuadratic();
  $("mode-network").addEventListener("click", () => setMode("network"));
  $("mode-quadratic").addEventListener("click", () => setMode("quadratic"));
  $("share").addEventListener("click", shareLink);
  $("export").addEventListener("click", exportConfig);
  document.addEventListener("input", saveToUrl);
  document.addEventListener("change", saveToUrl);
  $("schedule").addEventListener("change", () => renderSchedule());
  $("add-optimizer").addEventListener("click", () => {
    const used = new Set([...document.querySelectorAll(".opt-name")].map((s) => s.value));
    const name = OPTIONS.optimizers.map((o) => o.name).find((n) => !used.has(n)) || "gd";
    addOptimizerRow({ name, learning_rate: 0.01, hyperparameters: {} });
  });
  $("train").addEventListener("click", startTraining);
  $("stop").addEventListener("click", stopRun);
  $("reset").addEventListener("click", () => {
    stopRun();
    if (run && run.source) run.source.close();
    setRunning(false);
    clearResults();
    setStatus("");
  });
  $("defaults").addEventListener("click", (event) => {
    event.preventDefault();
    applySettings(OPTIONS.defaults);
  });
  $("log-scale").addEventListener("change", requestChart);
  applySettings(OPTIONS.defaults);
  clearResults();
  restoreFromUrl();
  saveToUrl();
  document.body.dataset.ready = "1";
}

init().catch((err) => setStatus("Could not load the playground's options: " + err, true));

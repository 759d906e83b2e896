// The project dashboard: reads the numbers the page embedded (json_script) and draws them.
import { COLORS, dayAxis, drawPlot } from "./plots.js";
import { makeAllSortable } from "./table_sort.js";

const data = JSON.parse(document.getElementById("dashboard-data").textContent);
const prefix = `project-${data.project_id}`;
const round = (v, digits = 3) => (v === null || v === undefined ? null : Number(v.toFixed(digits)));

function curveX(mode, points = data.models.curve) {
  return mode === "version"
    ? { title: "model version", x: points.map((p) => p.iteration) }
    : { title: "labels (annotator × frame)", x: points.map((p) => p.n_labels) };
}

function curveCsv(points) {
  const pcks = pckKeys(points);
  return [["version", "iteration", "n_labels", "n_frames", "test_rmse_px", "test_rmse_pcutoff_px",
    "train_rmse_px", ...pcks.map((k) => `pck_${k}px`), "human_agreement_px"],
  points.map((p) => [p.version_id, p.iteration, p.n_labels, p.n_frames, p.test_rmse_px,
    p.test_rmse_pcutoff_px, p.train_rmse_px, ...pcks.map((k) => p.pck[k]),
    data.models.agreement.mean_px])];
}

function pckKeys(points) {
  const keys = new Set(points.flatMap((p) => Object.keys(p.pck)));
  return [...keys].sort((a, b) => Number(a) - Number(b));
}

function line(name, x, y, color, extra = {}) {
  return { type: "scatter", mode: "lines+markers", name, x, y, line: { color, width: 2 },
    marker: { color, size: 7 }, connectgaps: true, ...extra };
}

function currentMarker(x, y, points) {
  const i = points.findIndex((p) => p.is_current);
  if (i < 0 || y[i] === null) return [];
  return [{ type: "scatter", mode: "markers", name: "current model", x: [x[i]], y: [y[i]],
    marker: { symbol: "star", size: 15, color: "#d4ac0d", line: { color: "#1d2330", width: 1 } },
    hovertemplate: "current model<extra></extra>" }];
}

function rmseSpec(mode) {
  const points = data.models.curve;
  const axis = curveX(mode);
  const text = points.map((p) => `model #${p.iteration}`);
  const test = points.map((p) => p.test_rmse_px);
  const traces = points.length ? [
    line("test RMSE", axis.x, test, COLORS[0], { text }),
    line("test RMSE, p ≥ cutoff", axis.x, points.map((p) => p.test_rmse_pcutoff_px), COLORS[1],
      { text, line: { color: COLORS[1], width: 1.5 } }),
    line("train RMSE", axis.x, points.map((p) => p.train_rmse_px), COLORS[6],
      { text, line: { color: COLORS[6], width: 1.5, dash: "dash" } }),
    ...currentMarker(axis.x, test, points),
  ] : [];
  const agreement = data.models.agreement.mean_px;
  const xs = axis.x.filter((v) => v !== null);
  if (traces.length && agreement !== null && xs.length) {
    traces.push({ type: "scatter", mode: "lines", name: "human agreement",
      x: [Math.min(...xs), Math.max(...xs)], y: [agreement, agreement],
      line: { color: COLORS[2], dash: "dot", width: 2 },
      hovertemplate: `annotators disagree by ${agreement.toFixed(2)} px<extra></extra>` });
  }
  return { traces, csv: curveCsv(points), empty: "No ready model yet",
    layout: { xaxis: { title: { text: axis.title } },
      yaxis: { title: { text: "error (px)" }, rangemode: "tozero" } } };
}

function pckSpec(mode) {
  const points = data.models.curve;
  const axis = curveX(mode);
  const traces = pckKeys(points).map((k, i) => line(`PCK@${k} px`, axis.x,
    points.map((p) => p.pck[k]), COLORS[i % COLORS.length]));
  return { traces, csv: curveCsv(points), empty: "No ready model yet",
    layout: { xaxis: { title: { text: axis.title } },
      yaxis: { title: { text: "share of points" }, range: [0, 1.02] } } };
}

function bodypartSpec() {
  const parts = data.models.bodyparts;
  const names = parts.map((p) => p.name);
  const hasModel = data.models.current_version_id !== null;
  const traces = hasModel ? [
    { type: "bar", name: "test", x: names, y: parts.map((p) => p.test_rmse_px),
      marker: { color: COLORS[0] } },
    { type: "bar", name: "train", x: names, y: parts.map((p) => p.train_rmse_px),
      marker: { color: "#a9c1ee" } },
  ] : [];
  if (hasModel && parts.some((p) => p.agreement_px !== null)) {
    traces.push({ type: "scatter", mode: "markers", name: "human agreement", x: names,
      y: parts.map((p) => p.agreement_px),
      marker: { symbol: "line-ew-open", size: 26, color: COLORS[2], line: { width: 3 } } });
  }
  return { traces, empty: "No current model yet",
    csv: [["bodypart", "test_rmse_px", "train_rmse_px", "agreement_px"],
      parts.map((p) => [p.name, p.test_rmse_px, p.train_rmse_px, p.agreement_px])],
    layout: { barmode: "group", yaxis: { title: { text: "error (px)" }, rangemode: "tozero" } } };
}

// Several animals: OKS mAP and recall per version (the x axis follows the curve selector).
function mapSpec(mode) {
  const points = data.models.multi_animal.curve;
  const axis = curveX(mode, points);
  const text = points.map((p) => `model #${p.iteration}`);
  const map = points.map((p) => p.map_oks);
  const traces = map.some((v) => v !== null) ? [
    line("OKS mAP", axis.x, map, COLORS[0], { text }),
    line("recall", axis.x, points.map((p) => p.recall), COLORS[5],
      { text, line: { color: COLORS[5], width: 1.5, dash: "dash" } }),
    ...currentMarker(axis.x, map, points),
  ] : [];
  return { traces, empty: "No multi-animal evaluation yet",
    csv: [["version", "iteration", "n_labels", "n_test", "map_oks", "recall", "median_px",
      "missed_animals", "extra_animals"],
    points.map((p) => [p.version_id, p.iteration, p.n_labels, p.n_test, p.map_oks, p.recall,
      p.median_px, p.missed_animals, p.extra_animals])],
    layout: { xaxis: { title: { text: axis.title } },
      yaxis: { title: { text: "OKS mAP / recall" }, range: [0, 1.02] } } };
}

function animalsSpec() {
  const points = data.models.multi_animal.curve
    .filter((p) => p.missed_animals !== null || p.extra_animals !== null);
  const x = points.map((p) => `#${p.iteration}`);
  const traces = points.length ? [
    { type: "bar", name: "missed", x, y: points.map((p) => p.missed_animals),
      marker: { color: COLORS[4] } },
    { type: "bar", name: "extra", x, y: points.map((p) => p.extra_animals),
      marker: { color: COLORS[1] } },
  ] : [];
  return { traces, empty: "No multi-animal evaluation yet",
    csv: [["version", "iteration", "n_test", "missed_animals", "extra_animals"],
      points.map((p) => [p.version_id, p.iteration, p.n_test, p.missed_animals,
        p.extra_animals])],
    layout: { barmode: "group", xaxis: { title: { text: "model version" }, type: "category" },
      yaxis: { title: { text: "animals" }, rangemode: "tozero" } } };
}

function likelihoodSpec() {
  const lk = data.models.likelihoods;
  const centers = lk.counts.map((_, i) => (lk.bin_edges[i] + lk.bin_edges[i + 1]) / 2);
  const traces = [{ type: "bar", name: "points", x: centers, y: lk.counts,
    width: 1 / lk.counts.length * 0.95, marker: { color: COLORS[0] } }];
  const cut = lk.pcutoff;
  const shapes = cut === null ? [] : [{ type: "line", x0: cut, x1: cut,
    yref: "paper", y0: 0, y1: 1, line: { color: COLORS[4], dash: "dash", width: 2 } }];
  const annotations = cut === null ? [] : [{ x: cut, y: 1, yref: "paper", yanchor: "bottom",
    text: `p-cutoff ${cut}`, showarrow: false, font: { color: COLORS[4], size: 11 } }];
  return { traces, csv: [["bin_from", "bin_to", "count"],
    lk.counts.map((c, i) => [lk.bin_edges[i], lk.bin_edges[i + 1], c])],
  layout: { shapes, annotations, showlegend: false, margin: { t: 22 }, xaxis: { title: { text: "likelihood" }, range: [0, 1] },
    yaxis: { title: { text: "body-part predictions" } } } };
}

function labelsPerDaySpec() {
  const rows = data.labeling.per_day;
  const people = [...new Set(rows.map((r) => r.annotator))];
  const days = rows.length ? dayAxis(rows.map((r) => r.day)) : { axis: { type: "date" } };
  const traces = people.map((name, i) => {
    const mine = rows.filter((r) => r.annotator === name);
    return { type: "bar", name, x: mine.map((r) => r.day), y: mine.map((r) => r.n),
      width: mine.map(() => days.barWidth), marker: { color: COLORS[i % COLORS.length] } };
  });
  return { traces, empty: "No submitted labels yet",
    csv: [["day", "annotator", "labels"], rows.map((r) => [r.day, r.annotator, r.n])],
    layout: { barmode: "stack", xaxis: { ...days.axis, title: { text: "day" } },
      yaxis: { title: { text: "labels" } } } };
}

function reviewSpec() {
  const r = data.labeling.reviews;
  const names = ["accepted", "corrected", "rejected", "awaiting review"];
  const values = [r.accept, r.correct, r.reject, r.awaiting_review];
  const colors = [COLORS[2], COLORS[1], COLORS[4], COLORS[6]];
  const traces = values.some((v) => v > 0) ? [{ type: "bar", x: names, y: values,
    marker: { color: colors }, text: values.map(String), textposition: "auto" }] : [];
  return { traces, empty: "No labels to review yet",
    csv: [["outcome", "labels"], names.map((n, i) => [n, values[i]])],
    layout: { showlegend: false, yaxis: { title: { text: "labels" } } } };
}

function queueSpec() {
  const rows = data.operations.queue;
  const labels = rows.map((r) => r.label);
  const traces = rows.length ? [
    { type: "bar", orientation: "h", name: "open", y: labels, x: rows.map((r) => r.open),
      marker: { color: COLORS[0] } },
    { type: "bar", orientation: "h", name: "leased", y: labels, x: rows.map((r) => r.leased),
      marker: { color: COLORS[1] } },
  ] : [];
  return { traces, empty: "The queue is empty",
    csv: [["reason", "open", "leased"], rows.map((r) => [r.reason, r.open, r.leased])],
    layout: { barmode: "stack", xaxis: { title: { text: "frames" } },
      yaxis: { automargin: true } } };
}

// Error of the selecting model on the frames it chose (one bar per reason), next to its error
// on its own test split (the baseline: the same points, weighted by the model that chose them).
function selectedSpec() {
  const s = data.active_learning.selected_vs_baseline;
  const groups = s.groups;
  const bars = (chosen, name, color) => {
    const mine = groups.filter((g) => g.model_selected === chosen);
    return { type: "bar", name, x: mine.map((g) => g.reason), y: mine.map((g) => round(g.mean_px)),
      text: mine.map((g) => `n=${g.n_frames}`), textposition: "auto", marker: { color },
      hovertemplate: "chosen for %{x}: %{y:.2f} px (%{text})<extra></extra>" };
  };
  const traces = groups.length ? [bars(true, "chosen for its scores", COLORS[0]),
    bars(false, "chosen for coverage / by hand", COLORS[5])].filter((t) => t.x.length) : [];
  if (traces.length && s.test_mean_px !== null) {
    traces.push({ type: "bar", name: "its test frames (baseline)", x: ["test split"],
      y: [round(s.test_mean_px)], marker: { color: COLORS[6] },
      hovertemplate: "test split: %{y:.2f} px<extra></extra>" });
  }
  return { traces, csv: [["bar", "model_selected", "n_frames", "mean_px", "median_px"],
    [...groups.map((g) => [g.reason, g.model_selected, g.n_frames, g.mean_px, g.median_px]),
      ["test split", null, null, s.test_mean_px, null]]],
  // One trace per category: "relative" keeps each bar centred on its reason.
  layout: { barmode: "relative", showlegend: true,
    yaxis: { title: { text: "selecting model's error (px)" }, rangemode: "tozero" } } };
}

function oracleSpec() {
  const o = data.active_learning.oracle;
  const traces = o.series.map((s, i) => line(s.name, s.x, s.y, COLORS[i % COLORS.length]));
  return { traces, empty: "No plottable columns", csv: [o.columns, o.rows],
    layout: { xaxis: { title: { text: o.x ?? "" } }, yaxis: { title: { text: o.y ?? "" } } } };
}

function drawCurves() {
  const mode = document.getElementById("curve-x")?.value ?? "labels";
  drawPlot("curve-rmse", rmseSpec(mode), prefix);
  if (data.models.multi_animal) drawPlot("curve-map", mapSpec(mode), prefix);
  else drawPlot("curve-pck", pckSpec(mode), prefix);
}

drawCurves();
document.getElementById("curve-x")?.addEventListener("change", drawCurves);
drawPlot("bodyparts", bodypartSpec(), prefix);
if (data.models.likelihoods.available) drawPlot("likelihood", likelihoodSpec(), prefix);
if (data.models.multi_animal) drawPlot("animals", animalsSpec(), prefix);
drawPlot("labels-day", labelsPerDaySpec(), prefix);
drawPlot("reviews", reviewSpec(), prefix);
drawPlot("queue", queueSpec(), prefix);
if (data.active_learning.selected_vs_baseline.available) {
  drawPlot("selected", selectedSpec(), prefix);
}
if (data.active_learning.oracle.available) drawPlot("oracle", oracleSpec(), prefix);
makeAllSortable();
document.body.dataset.dashboardReady = "true";

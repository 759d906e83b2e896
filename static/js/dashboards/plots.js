// Draws one plot with the vendored plotly (window.Plotly) and gives it PNG, SVG and CSV buttons.

const Plotly = window.Plotly;

export const COLORS = ["#2f6fdf", "#e07b39", "#1e8e3e", "#8e44ad", "#c0392b", "#16a2b8",
  "#7f8c8d", "#d4ac0d"];

const BASE_LAYOUT = {
  margin: { l: 56, r: 16, t: 8, b: 48 },
  height: 300,
  font: { family: "system-ui, -apple-system, 'Segoe UI', sans-serif", size: 12, color: "#1d2330" },
  paper_bgcolor: "#fff",
  plot_bgcolor: "#fff",
  // Above the plot, so it never collides with the x axis title.
  legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
  xaxis: { gridcolor: "#eceef2", zeroline: false, automargin: true },
  yaxis: { gridcolor: "#eceef2", zeroline: false, automargin: true },
  hovermode: "closest",
};

const CONFIG = { displayModeBar: false, responsive: true };

const DAY_MS = 24 * 60 * 60 * 1000;

// A date axis for bars of whole days ("YYYY-MM-DD"). Left to Plotly, a bar on a date axis is
// 1 ms wide, so with a single day the axis spans a millisecond and the ticks read
// "23:59:59.9996 … 00:00:00.0004". Here bars are most of a day wide, the range pads half a
// day each side, and ticks fall on days (one per day over a short span) shown as dates.
export function dayAxis(days) {
  const times = days.map((d) => Date.parse(d)); // UTC midnight, as Plotly reads the dates
  const first = Math.min(...times);
  const last = Math.max(...times);
  const axis = { type: "date", tickformat: "%Y-%m-%d", hoverformat: "%Y-%m-%d",
    range: [first - DAY_MS / 2, last + DAY_MS / 2] };
  if ((last - first) / DAY_MS < 14) Object.assign(axis, { tick0: first, dtick: DAY_MS });
  return { axis, barWidth: 0.8 * DAY_MS };
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}

function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function button(text, title, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "export";
  b.textContent = text;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function addExportButtons(card, div, name) {
  const head = card.querySelector(".plot-head");
  let bar = head.querySelector(".exports");
  if (bar) return;
  bar = document.createElement("span");
  bar.className = "exports";
  const image = (format) => () => Plotly.downloadImage(div, {
    format, filename: name, width: div.clientWidth || 700, height: div.clientHeight || 300 });
  bar.append(
    button("PNG", "Download the plot as PNG", image("png")),
    button("SVG", "Download the plot as SVG", image("svg")),
    button("CSV", "Download the plot's numbers as CSV",
      () => download(`${name}.csv`, toCsv(...div._csv()), "text/csv")),
  );
  head.append(bar);
}

// spec: { traces, layout, csv: [header, rows] }. Draws (or redraws) into #plot-<name>.
export function drawPlot(name, spec, filePrefix) {
  const div = document.getElementById(`plot-${name}`);
  if (!div) return null;
  const layout = {
    ...BASE_LAYOUT, ...spec.layout,
    xaxis: { ...BASE_LAYOUT.xaxis, ...(spec.layout?.xaxis ?? {}) },
    yaxis: { ...BASE_LAYOUT.yaxis, ...(spec.layout?.yaxis ?? {}) },
    margin: { ...BASE_LAYOUT.margin, ...(spec.layout?.margin ?? {}) },
  };
  if (!spec.traces.length) {
    layout.annotations = [{ text: spec.empty ?? "No data yet", showarrow: false,
      xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 14, color: "#667085" } }];
    layout.xaxis = { ...layout.xaxis, visible: false };
    layout.yaxis = { ...layout.yaxis, visible: false };
  }
  div._csv = () => spec.csv;
  Plotly.react(div, spec.traces, layout, CONFIG);
  addExportButtons(div.closest(".plot-card"), div, `${filePrefix}-${name}`);
  return div;
}

// The session page's 3D viewer: the newest triangulation's skeleton as a rotatable plotly
// scatter3d (points + bones), with a frame slider. Points come from the access-checked API.
const data = JSON.parse(document.getElementById("viewer-data").textContent);
const plot = document.getElementById("viewer");
const slider = document.getElementById("frame");
const number = document.getElementById("frame-number");
const hint = document.getElementById("viewer-hint");

function traces(body, f) {
  const frame = body.points[f] || [];
  const pts = frame.map((p, k) => ({ p, k })).filter((e) => e.p !== null);
  const bones = { x: [], y: [], z: [] };
  for (const [a, b] of body.edges) {
    if (frame[a] && frame[b]) {
      bones.x.push(frame[a][0], frame[b][0], null);
      bones.y.push(frame[a][1], frame[b][1], null);
      bones.z.push(frame[a][2], frame[b][2], null);
    }
  }
  return [
    { type: "scatter3d", mode: "lines", name: "skeleton", ...bones,
      line: { width: 5, color: "#555" }, hoverinfo: "skip" },
    { type: "scatter3d", mode: "markers", name: "body parts",
      x: pts.map((e) => e.p[0]), y: pts.map((e) => e.p[1]), z: pts.map((e) => e.p[2]),
      text: pts.map((e) => body.bodyparts[e.k]), hovertemplate: "%{text}<extra></extra>",
      marker: { size: 4, color: pts.map((e) => e.k), colorscale: "Viridis" } },
  ];
}

function ranges(body) {
  const axes = [[Infinity, -Infinity], [Infinity, -Infinity], [Infinity, -Infinity]];
  for (const frame of body.points) {
    for (const p of frame) {
      if (p === null) continue;
      for (let i = 0; i < 3; i += 1) {
        axes[i][0] = Math.min(axes[i][0], p[i]);
        axes[i][1] = Math.max(axes[i][1], p[i]);
      }
    }
  }
  return axes;
}

async function show() {
  if (!data) {
    hint.textContent = "Triangulate the session to see it in 3D.";
    return;
  }
  const step = Math.max(1, Math.ceil(data.frames / 5000)); // the API's limit per request
  const response = await fetch(`${data.points_url}?step=${step}`, { credentials: "same-origin" });
  if (!response.ok) {
    hint.textContent = `Could not load the 3D points (${response.status}).`;
    return;
  }
  const body = await response.json();
  const [xr, yr, zr] = ranges(body);
  const layout = {
    margin: { l: 0, r: 0, t: 0, b: 0 }, showlegend: false, uirevision: "keep",
    scene: { aspectmode: "data", xaxis: { range: xr }, yaxis: { range: yr },
             zaxis: { range: zr } },
  };
  await Plotly.newPlot(plot, traces(body, 0), layout, { responsive: true });
  plot.dataset.frames = String(body.points.length);
  slider.max = String(Math.max(0, body.points.length - 1));
  slider.disabled = false;
  slider.addEventListener("input", () => {
    const f = Number(slider.value);
    number.textContent = String(body.start + f * body.step);
    Plotly.react(plot, traces(body, f), layout);
  });
  plot.dataset.ready = "true";
}

show();

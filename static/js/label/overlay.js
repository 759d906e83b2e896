// Drawing of keypoints, suggestions and skeleton lines on the viewer's canvas (screen pixels).

export const OTHERS_COLOR = "#ff9f1c";
export const MODEL_COLOR = "#22d3ee";

function outlineFor(color) {
  // Dark outline on light colors, light on dark ones, so every color reads on every frame.
  const n = parseInt(color.slice(1), 16);
  const luma = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return luma > 150 ? "rgba(0,0,0,.85)" : "rgba(255,255,255,.92)";
}

// Lines between placed points; `points` maps body-part name → {x, y} (image coordinates).
export function drawSkeleton(ctx, view, edges, points, { color = null, alpha = 0.85, dash = [] } = {}) {
  ctx.save();
  ctx.lineWidth = 2;
  ctx.setLineDash(dash);
  ctx.globalAlpha = alpha;
  for (const [a, b] of edges) {
    const p = points.get(a);
    const q = points.get(b);
    if (!p || !q) continue;
    const s = view.toScreen(p.x, p.y);
    const t = view.toScreen(q.x, q.y);
    ctx.strokeStyle = "rgba(0,0,0,.55)";
    ctx.lineWidth = 4;
    ctx.beginPath();
    ctx.moveTo(s.x, s.y);
    ctx.lineTo(t.x, t.y);
    ctx.stroke();
    const gradient = ctx.createLinearGradient(s.x, s.y, t.x, t.y);
    gradient.addColorStop(0, color || p.color);
    gradient.addColorStop(1, color || q.color);
    ctx.strokeStyle = gradient;
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  ctx.restore();
}

// A labeled point: filled when visible, a dashed ring when occluded; a halo when active.
// With several animals, `ring` is the instance's colour around the point and `alpha` dims
// the instances other than the current one.
export function drawPoint(ctx, view, point, color, { active = false, name = "", ring = null, alpha = 1 } = {}) {
  const { x, y } = view.toScreen(point.x, point.y);
  ctx.save();
  ctx.globalAlpha = alpha;
  if (ring) {
    for (const [width, style] of [[5, "rgba(0,0,0,.6)"], [2.5, ring]]) {
      ctx.beginPath();
      ctx.arc(x, y, 8.5, 0, 2 * Math.PI);
      ctx.lineWidth = width;
      ctx.strokeStyle = style;
      ctx.stroke();
    }
  }
  if (active) {
    ctx.beginPath();
    ctx.arc(x, y, 11, 0, 2 * Math.PI);
    ctx.strokeStyle = "rgba(255,255,255,.95)";
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  ctx.beginPath();
  ctx.arc(x, y, 5.5, 0, 2 * Math.PI);
  if (point.state === "occluded") {
    ctx.setLineDash([3, 2]);
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.arc(x, y, 1.5, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
  } else {
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = outlineFor(color);
    ctx.stroke();
  }
  if (name) drawTag(ctx, x + 10, y - 10, name, color);
  ctx.restore();
}

// A model suggestion: a dashed ring whose opacity follows the likelihood, with a small cross.
export function drawSuggestion(ctx, view, point, color, likelihood) {
  const { x, y } = view.toScreen(point.x, point.y);
  ctx.save();
  ctx.globalAlpha = 0.35 + 0.65 * Math.max(0, Math.min(1, likelihood));
  ctx.setLineDash([4, 3]);
  for (const [width, style] of [[4.5, "rgba(0,0,0,.55)"], [2.5, color]]) {
    ctx.lineWidth = width;
    ctx.strokeStyle = style;
    ctx.beginPath();
    ctx.arc(x, y, 9, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x - 4, y);
  ctx.lineTo(x + 4, y);
  ctx.moveTo(x, y - 4);
  ctx.lineTo(x, y + 4);
  ctx.stroke();
  ctx.restore();
}

// A model prediction in review: a diamond in the model's color.
export function drawDiamond(ctx, view, point, color = MODEL_COLOR) {
  const { x, y } = view.toScreen(point.x, point.y);
  ctx.save();
  ctx.beginPath();
  ctx.moveTo(x, y - 7);
  ctx.lineTo(x + 7, y);
  ctx.lineTo(x, y + 7);
  ctx.lineTo(x - 7, y);
  ctx.closePath();
  ctx.lineWidth = 3.5;
  ctx.strokeStyle = "rgba(0,0,0,.6)";
  ctx.stroke();
  ctx.lineWidth = 2;
  ctx.strokeStyle = color;
  ctx.stroke();
  ctx.restore();
}

// Another annotator's point in review: an × in one color per annotator.
export function drawCross(ctx, view, point, color = OTHERS_COLOR) {
  const { x, y } = view.toScreen(point.x, point.y);
  ctx.save();
  ctx.lineCap = "round";
  for (const [width, style] of [[4.5, "rgba(0,0,0,.6)"], [2.5, color]]) {
    ctx.lineWidth = width;
    ctx.strokeStyle = style;
    ctx.beginPath();
    ctx.moveTo(x - 5, y - 5);
    ctx.lineTo(x + 5, y + 5);
    ctx.moveTo(x + 5, y - 5);
    ctx.lineTo(x - 5, y + 5);
    ctx.stroke();
  }
  ctx.restore();
}

// A thin line from one image point to another (a label's distance to the model's).
export function drawLink(ctx, view, a, b, color) {
  const s = view.toScreen(a.x, a.y);
  const t = view.toScreen(b.x, b.y);
  ctx.save();
  ctx.setLineDash([2, 3]);
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = color;
  ctx.beginPath();
  ctx.moveTo(s.x, s.y);
  ctx.lineTo(t.x, t.y);
  ctx.stroke();
  ctx.restore();
}

// An instance's track name up and left of its first placed point (a point's own name goes
// up and right).
export function drawInstanceTag(ctx, view, point, text, color, { alpha = 1 } = {}) {
  const { x, y } = view.toScreen(point.x, point.y);
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.font = "600 12px system-ui, sans-serif";
  drawTag(ctx, x - ctx.measureText(text).width - 20, y - 10, text, color);
  ctx.restore();
}

function drawTag(ctx, x, y, text, color) {
  ctx.font = "600 12px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 10;
  ctx.fillStyle = "rgba(17,20,28,.82)";
  ctx.beginPath();
  ctx.roundRect(x, y - 16, w, 18, 4);
  ctx.fill();
  ctx.fillStyle = color;
  ctx.fillRect(x, y - 16, 3, 18);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 6, y - 3);
}

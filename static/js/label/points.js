// The points of one label in body-part order, and an undo/redo history of their snapshots.

export const VISIBLE = "visible";
export const OCCLUDED = "occluded";
export const ABSENT = "absent";

export class PointSet {
  constructor(parts) {
    this.parts = parts; // [{id, name, color, order}] in skeleton order
    this.points = parts.map((p) => ({ bodypart: p.id, x: null, y: null, state: VISIBLE }));
  }

  // Take points from the API (any order; matched by body-part id). In a draft, absent means
  // "not decided yet" (see `payload`), so it comes back as an unplaced part.
  load(list, { draft = false } = {}) {
    const byId = new Map((list || []).map((p) => [p.bodypart, p]));
    this.points = this.parts.map((part) => {
      const p = byId.get(part.id);
      if (!p) return { bodypart: part.id, x: null, y: null, state: VISIBLE };
      const hasXY = p.x !== null && p.x !== undefined && p.y !== null && p.y !== undefined;
      let state = p.state === ABSENT ? ABSENT : p.state === OCCLUDED ? OCCLUDED : VISIBLE;
      if (draft && state === ABSENT) state = VISIBLE;
      return {
        bodypart: part.id,
        x: hasXY && state !== ABSENT ? Number(p.x) : null,
        y: hasXY && state !== ABSENT ? Number(p.y) : null,
        state,
      };
    });
  }

  get length() {
    return this.points.length;
  }

  at(index) {
    return this.points[index];
  }

  isPlaced(index) {
    const p = this.points[index];
    return p.x !== null && p.state !== ABSENT;
  }

  // Decided: placed, or marked not present.
  isDone(index) {
    return this.isPlaced(index) || this.points[index].state === ABSENT;
  }

  doneCount() {
    return this.points.filter((_, i) => this.isDone(i)).length;
  }

  undone() {
    return this.points.map((_, i) => i).filter((i) => !this.isDone(i));
  }

  // The first undecided part after `from` (wrapping), or -1 when all are decided.
  nextUndone(from) {
    for (let step = 1; step <= this.length; step += 1) {
      const i = (from + step) % this.length;
      if (!this.isDone(i)) return i;
    }
    return -1;
  }

  place(index, x, y) {
    const p = this.points[index];
    p.x = x;
    p.y = y;
    if (p.state === ABSENT) p.state = VISIBLE;
  }

  setState(index, state) {
    const p = this.points[index];
    p.state = state;
    if (state === ABSENT) {
      p.x = null;
      p.y = null;
    }
  }

  clear(index) {
    this.points[index] = { bodypart: this.points[index].bodypart, x: null, y: null, state: VISIBLE };
  }

  // The placed point nearest to a screen position within `radius` screen pixels, or -1.
  hit(view, sx, sy, radius = 10) {
    let best = -1;
    let bestDistance = radius;
    this.points.forEach((p, i) => {
      if (!this.isPlaced(i)) return;
      const s = view.toScreen(p.x, p.y);
      const d = Math.hypot(s.x - sx, s.y - sy);
      if (d <= bestDistance) {
        best = i;
        bestDistance = d;
      }
    });
    return best;
  }

  // name → {x, y, color} of placed points, for skeleton lines.
  byName() {
    const map = new Map();
    this.points.forEach((p, i) => {
      if (this.isPlaced(i)) map.set(this.parts[i].name, { x: p.x, y: p.y, color: this.parts[i].color });
    });
    return map;
  }

  snapshot() {
    return this.points.map((p) => ({ ...p }));
  }

  restore(snapshot) {
    this.points = snapshot.map((p) => ({ ...p }));
  }

  // The API's shape: one point per body part. The API has no "not yet placed" state, so an
  // undecided part goes out as absent (null x/y); drafts read it back as undecided (`load`).
  payload() {
    return this.points.map((p, i) => (this.isPlaced(i)
      ? { bodypart: p.bodypart, x: round2(p.x), y: round2(p.y), state: p.state }
      : { bodypart: p.bodypart, x: null, y: null, state: ABSENT }));
  }
}

function round2(v) {
  return Math.round(v * 100) / 100;
}

export class History {
  constructor(limit = 200) {
    this.limit = limit;
    this.past = [];
    this.future = [];
  }

  // Call with the state BEFORE a change.
  push(state) {
    this.past.push(state);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }

  undo(current) {
    if (!this.past.length) return null;
    this.future.push(current);
    return this.past.pop();
  }

  redo(current) {
    if (!this.future.length) return null;
    this.past.push(current);
    return this.future.pop();
  }

  clear() {
    this.past = [];
    this.future = [];
  }

  get canUndo() {
    return this.past.length > 0;
  }

  get canRedo() {
    return this.future.length > 0;
  }
}

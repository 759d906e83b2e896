// Several animals per frame: a label's instances (each a PointSet with a track), the one
// clicks go to, and how the model's predicted instances pair with them. A single-animal
// project is one instance whose payload is the flat list of points, as before.

import { PointSet, VISIBLE } from "./points.js";

// One colour per instance, for its skeleton and the halo of its points (body-part colours
// stay the fill). Chosen to read on dark and light frames and apart from each other.
export const INSTANCE_COLORS = ["#ff6b35", "#2ec4b6", "#e0e722", "#c77dff", "#4cc9f0", "#ff4d8d", "#80ed99", "#f8f9fa"];

export function instanceColor(index) {
  return INSTANCE_COLORS[index % INSTANCE_COLORS.length];
}

// A label's points as instances, whichever kind of project wrote them (as the server's
// annotation.instances.instances_of): a flat list of points is one instance without a track.
export function instancesOf(points) {
  if (!points?.length) return [];
  if (points[0] && typeof points[0] === "object" && "points" in points[0]) {
    return points.map((i) => ({ track: String(i.track ?? ""), points: i.points || [] }));
  }
  return [{ track: "", points }];
}

export class Animals {
  // parts: the skeleton's body parts; multi: several animals per frame (max_animals > 1);
  // individuals: the project's names for its animals ([] when anonymous).
  constructor(parts, { multi = false, max = 1, individuals = [] } = {}) {
    Object.assign(this, { parts, multi, max: multi ? max : 1, individuals });
    this.list = [];
    this.current = 0;
    this.reset();
  }

  // One empty instance: a new frame starts with it, so the first click places a point.
  reset() {
    this.list = [];
    this.list = [{ track: this.freeTrack(), set: new PointSet(this.parts) }];
    this.current = 0;
  }

  get length() {
    return this.list.length;
  }

  get set() {
    return this.list[this.current]?.set ?? null;
  }

  get track() {
    return this.list[this.current]?.track ?? "";
  }

  load(points, { draft = false } = {}) {
    const instances = this.multi ? instancesOf(points) : [{ track: "", points: points || [] }];
    if (!instances.length) {
      this.reset();
      return;
    }
    this.list = instances.map(({ track, points: list }) => {
      const set = new PointSet(this.parts);
      set.load(list, { draft });
      return { track, set };
    });
    this.current = 0;
  }

  // The first individual's name no instance uses yet; "" for anonymous animals.
  freeTrack() {
    const used = new Set(this.list.map((i) => i.track));
    return this.individuals.find((name) => !used.has(name)) ?? "";
  }

  canAdd() {
    return this.list.length < this.max;
  }

  select(index) {
    if (index < 0 || index >= this.list.length) return false;
    this.current = index;
    return true;
  }

  step(delta) {
    const n = this.list.length;
    return this.select((this.current + delta + n) % n);
  }

  // A new empty instance becomes the current one; false at max_animals.
  add() {
    if (!this.canAdd()) return false;
    this.list.push({ track: this.freeTrack(), set: new PointSet(this.parts) });
    this.current = this.list.length - 1;
    return true;
  }

  // A copy of the current instance shifted by (dx, dy) image pixels, kept inside `bounds`
  // ({width, height}) so both stay visible; it becomes the current one.
  duplicate(dx, dy, bounds) {
    if (!this.canAdd() || !this.set) return false;
    const copy = new PointSet(this.parts);
    copy.restore(this.set.snapshot());
    copy.points.forEach((p, i) => {
      if (!copy.isPlaced(i)) return;
      p.x = Math.min(bounds.width - 0.5, Math.max(0, p.x + dx));
      p.y = Math.min(bounds.height - 0.5, Math.max(0, p.y + dy));
    });
    this.list.push({ track: this.freeTrack(), set: copy });
    this.current = this.list.length - 1;
    return true;
  }

  // Delete the current instance; the last one left is emptied instead (clicks need a target).
  remove() {
    if (this.list.length <= 1) {
      const track = this.list[0]?.track ?? "";
      this.reset();
      this.list[0].track = track;
      return true;
    }
    this.list.splice(this.current, 1);
    this.current = Math.min(this.current, this.list.length - 1);
    return true;
  }

  setTrack(index, track) {
    const item = this.list[index];
    if (!item || item.track === track) return false;
    item.track = track;
    return true;
  }

  placedCount(index) {
    const { set } = this.list[index];
    return set.points.filter((_, i) => set.isPlaced(i)).length;
  }

  isEmpty(index) {
    return this.placedCount(index) === 0;
  }

  // Indexes of instances whose (non-empty) track another instance has too.
  duplicateTracks() {
    const seen = new Map();
    this.list.forEach((item, i) => {
      if (item.track) seen.set(item.track, [...(seen.get(item.track) || []), i]);
    });
    return new Set([...seen.values()].filter((ids) => ids.length > 1).flat());
  }

  // Instances that will be sent: those with a placed point (the API refuses empty ones).
  kept() {
    return this.list.map((_, i) => i).filter((i) => !this.isEmpty(i));
  }

  // The nearest placed point to a screen position, the current instance first:
  // {instance, index} or null.
  hit(view, sx, sy, radius = 10) {
    const own = this.set?.hit(view, sx, sy, radius) ?? -1;
    if (own >= 0) return { instance: this.current, index: own };
    let best = null;
    let bestDistance = radius;
    this.list.forEach((item, k) => {
      if (k === this.current) return;
      const i = item.set.hit(view, sx, sy, bestDistance);
      if (i < 0) return;
      const p = item.set.at(i);
      const s = view.toScreen(p.x, p.y);
      const d = Math.hypot(s.x - sx, s.y - sy);
      if (d <= bestDistance) {
        best = { instance: k, index: i };
        bestDistance = d;
      }
    });
    return best;
  }

  snapshot() {
    return { current: this.current, list: this.list.map((i) => ({ track: i.track, points: i.set.snapshot() })) };
  }

  restore(saved) {
    this.list = saved.list.map(({ track, points }) => {
      const set = new PointSet(this.parts);
      set.restore(points);
      return { track, set };
    });
    this.current = Math.min(saved.current, this.list.length - 1);
  }

  // The API's shape: a single-animal label's points, or a multi-animal label's instances
  // (those with a placed point; undecided parts go out as absent as in PointSet.payload).
  payload() {
    if (!this.multi) return this.list[0].set.payload();
    return this.kept().map((i) => ({ track: this.list[i].track, points: this.list[i].set.payload() }));
  }
}

// Which instance each predicted animal belongs to: the one with its track, else the nearest
// one with placed points (mean distance over shared parts, nearest pairs first), else an empty
// one. Returns, per prediction, an instance index or -1 (a new instance would take it).
// `predicted`: [{track, points: Map bodypart id → {x, y, likelihood}}].
export function matchPredicted(animals, predicted) {
  const target = predicted.map(() => -1);
  const taken = new Set();
  predicted.forEach((p, k) => {
    if (!p.track) return;
    const i = animals.list.findIndex((item, j) => item.track === p.track && !taken.has(j));
    if (i >= 0) {
      target[k] = i;
      taken.add(i);
    }
  });
  const pairs = [];
  predicted.forEach((p, k) => {
    if (target[k] >= 0) return;
    animals.list.forEach((item, i) => {
      if (taken.has(i)) return;
      const d = meanDistance(item.set, p.points);
      if (d !== null) pairs.push([d, k, i]);
    });
  });
  pairs.sort((a, b) => a[0] - b[0]);
  for (const [, k, i] of pairs) {
    if (target[k] >= 0 || taken.has(i)) continue;
    target[k] = i;
    taken.add(i);
  }
  predicted.forEach((_, k) => {
    if (target[k] >= 0) return;
    const i = animals.list.findIndex((item, j) => !taken.has(j) && animals.isEmpty(j) && !item.set.doneCount());
    if (i >= 0) {
      target[k] = i;
      taken.add(i);
    }
  });
  return target;
}

function meanDistance(set, points) {
  let sum = 0;
  let n = 0;
  set.points.forEach((p, i) => {
    const q = points.get(p.bodypart);
    if (!set.isPlaced(i) || !q) return;
    sum += Math.hypot(p.x - q.x, p.y - q.y);
    n += 1;
  });
  return n ? sum / n : null;
}

// The parts of `set` still undecided, as placed points of `suggestion` (likelihood ≥ min) fill
// them; returns how many it placed.
export function fillFrom(set, parts, suggestion, min) {
  let count = 0;
  parts.forEach((part, i) => {
    const p = suggestion(part.id);
    if (!p || set.isDone(i) || (p.likelihood ?? 0) < min) return;
    set.place(i, p.x, p.y);
    set.setState(i, VISIBLE);
    count += 1;
  });
  return count;
}


// The header's live facts: progress counters, what the last retraining did, and a stopwatch.

import { ApiError } from "./api.js";
import { ago, duration, el, fixed } from "./ui.js";

export async function refreshProgress(api, node) {
  try {
    const { data } = await api.get("annotation/progress/");
    node.replaceChildren(
      el("span", { class: "stat", title: "Frames you submitted today" }, el("b", { textContent: data.mine_today }), " today"),
      el("span", { class: "stat", title: "Frames you submitted in this project" }, el("b", { textContent: data.mine_total }), " yours"),
      el("span", { class: "stat", title: "Frames with at least one submitted label" }, el("b", { textContent: data.project_labeled_frames }), " labeled"),
      el("span", { class: "stat", title: "Queue: open / being labeled now" },
        el("b", { textContent: data.queue_open }), " queued · ", el("b", { textContent: data.queue_leased }), " in progress"),
    );
    node.hidden = false;
    return data;
  } catch {
    node.hidden = true;
    return null;
  }
}

// "Model 4 retrained 4 min ago: test error 6.1 → 4.3 px"; hidden while no model exists.
export async function refreshModel(api, node) {
  try {
    const { status, data } = await api.get("models/current/", { expect: [404] });
    if (status === 404 || !data) {
      node.hidden = true;
      return null;
    }
    const error = data.previous_test_rmse_px === null || data.previous_test_rmse_px === undefined
      ? `test error ${fixed(data.test_rmse_px)} px`
      : `test error ${fixed(data.previous_test_rmse_px)} → ${fixed(data.test_rmse_px)} px`;
    const better = data.previous_test_rmse_px !== null && data.test_rmse_px < data.previous_test_rmse_px;
    node.textContent = `Model ${data.iteration ?? data.id} retrained ${ago(data.created_at)}: ${error}`;
    node.dataset.trend = better ? "better" : "same";
    node.hidden = false;
    return data;
  } catch (error) {
    if (!(error instanceof ApiError)) node.hidden = true;
    return null;
  }
}

// Seconds actually spent on a frame: counts while the tab is visible and the user was active
// in the last minute, so a label left open over lunch does not claim an hour.
export class Stopwatch {
  constructor(node, idleAfterMs = 60000) {
    this.node = node;
    this.idleAfterMs = idleAfterMs;
    this.base = 0;
    this.running = false;
    this.lastActive = Date.now();
    this.lastTick = Date.now();
    for (const type of ["pointerdown", "pointermove", "keydown", "wheel"]) {
      document.addEventListener(type, () => {
        this.lastActive = Date.now();
      }, { passive: true, capture: true });
    }
    setInterval(() => this.tick(), 1000);
  }

  start(seconds = 0) {
    this.base = seconds;
    this.running = true;
    this.lastTick = Date.now();
    this.lastActive = Date.now();
    this.show();
  }

  stop() {
    this.tick();
    this.running = false;
  }

  tick() {
    const now = Date.now();
    const active = !document.hidden && now - this.lastActive < this.idleAfterMs;
    if (this.running && active) this.base += (now - this.lastTick) / 1000;
    this.lastTick = now;
    this.node.dataset.idle = active ? "no" : "yes";
    this.show();
  }

  get seconds() {
    this.tick();
    return this.base;
  }

  show() {
    this.node.textContent = duration(this.base);
  }
}

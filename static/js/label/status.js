// The header's live facts: progress counters, what the last retraining did, and a stopwatch.

import { ApiError } from "./api.js";
import { ago, duration, el, fixed } from "./ui.js";

export async function refreshProgress(api, node) {
  try {
    const { data } = await api.get("annotation/progress/");
    const stat = (value, text, title) => el("div", { class: "stat", title },
      el("b", { textContent: value }), el("span", { textContent: text }));
    node.replaceChildren(
      stat(data.mine_today, "today", "Frames you submitted today"),
      stat(data.mine_total, "yours", "Frames you submitted in this project"),
      stat(data.project_labeled_frames, "labeled", "Frames of the project with a submitted label"),
      stat(data.queue_open, "queued", `Open in the queue; ${data.queue_leased} being labeled now`),
    );
    node.hidden = false;
    return data;
  } catch {
    node.hidden = true;
    return null;
  }
}

// "Model 4 retrained 4 min ago: test error 6.1 → 4.3 px"; hidden while no model exists
// (models/current/ answers null then). Resolves to the current model or null.
export async function refreshModel(api, node) {
  try {
    const { data } = await api.get("models/current/");
    if (!data) {
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

// Whether the project has a current model, checked at once and then every `everyMs` (0: once).
// Pages ask for a frame's prediction only when it has one: without a model the prediction is
// a 404 by contract, which the browser would log as an error on every frame.
export class ModelWatch {
  constructor(api, node, { everyMs = 0, onChange = () => {} } = {}) {
    this.api = api;
    this.node = node;
    this.onChange = onChange;
    this.model = null;
    this.ready = this.check(false);
    if (everyMs) setInterval(() => this.check(true), everyMs);
  }

  // Waits for the first check; true when predictions can be asked for.
  async hasModel() {
    await this.ready;
    return this.model !== null;
  }

  // `onChange(model)` runs when a later check finds another model (or the first one).
  async check(notify) {
    const model = await refreshModel(this.api, this.node);
    const changed = (model?.id ?? null) !== (this.model?.id ?? null);
    this.model = model;
    if (notify && changed) this.onChange(model);
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

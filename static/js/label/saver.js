// Saving one label: debounced autosaves (submit:false), an explicit submit, the version
// handshake (each save says which version it started from; a 409 carries the current label),
// and retries that reuse the request's request_id so a save that did land is not applied twice.

import { ApiError, isTransient } from "./api.js";

const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Pages served over plain http to a non-localhost name lack randomUUID (secure contexts only).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Saver {
  // snapshot() → {points, seconds_spent, source}; callbacks: onSaved(label, request),
  // onConflict(current, error), onError(error), onStatus(kind, text).
  constructor({ api, delay = 1500, snapshot, onSaved, onConflict, onError, onStatus }) {
    Object.assign(this, { api, delay, snapshot, onSaved, onConflict, onError, onStatus });
    this.timer = null;
    this.chain = Promise.resolve();
    this.reset(null, 0, null);
  }

  // Start on a frame: the label's version (0 for new) and the queue entry it belongs to.
  reset(frameId, version, entryId) {
    clearTimeout(this.timer);
    this.timer = null;
    this.frameId = frameId;
    this.version = version || 0;
    this.entryId = entryId;
    this.revision = 0;
    this.savedRevision = 0;
    this.unacknowledged = null; // a request sent but not answered: retried as it was
    this.generation = (this.generation || 0) + 1;
    this.onStatus?.("saved", version ? `Saved · v${version}` : "Not saved yet");
  }

  get dirty() {
    return this.revision !== this.savedRevision || this.unacknowledged !== null;
  }

  changed() {
    this.revision += 1;
    this.onStatus?.("dirty", "Unsaved changes");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.flush().catch(() => {});
    }, this.delay);
  }

  // Save now. Saves run one after another; resolves to the saved label (or null when nothing
  // needed saving), rejects with ApiError when the server refused.
  flush({ submit = false, keepalive = false } = {}) {
    clearTimeout(this.timer);
    this.timer = null;
    const run = this.chain.then(() => this.saveOnce(submit, keepalive));
    this.chain = run.catch(() => {});
    return run;
  }

  async saveOnce(submit, keepalive) {
    if (this.frameId === null) return null;
    if (this.unacknowledged) {
      await this.send(this.unacknowledged, keepalive);
      if (!submit && this.revision === this.savedRevision) return null;
    } else if (!submit && this.revision === this.savedRevision) {
      return null;
    }
    const state = this.snapshot();
    const request = {
      frameId: this.frameId,
      generation: this.generation,
      revision: this.revision,
      body: {
        points: state.points,
        version: this.version,
        seconds_spent: Math.round(state.seconds_spent * 10) / 10,
        source: state.source,
        request_id: uuid(),
        entry: this.entryId,
        submit,
      },
    };
    this.unacknowledged = request;
    return this.send(request, keepalive);
  }

  async send(request, keepalive) {
    for (let attempt = 0; ; attempt += 1) {
      if (request.generation !== this.generation) return null; // the page moved on
      this.onStatus?.("saving", request.body.submit ? "Submitting…" : "Saving…");
      try {
        const { data } = await this.api.put(`frames/${request.frameId}/label/`, request.body, { keepalive });
        if (request.generation !== this.generation) return data.label;
        this.unacknowledged = null;
        this.version = data.label.version;
        this.savedRevision = request.revision;
        this.onStatus?.(this.dirty ? "dirty" : "saved",
          this.dirty ? "Unsaved changes" : `Saved · v${this.version}`);
        this.onSaved?.(data.label, request);
        return data.label;
      } catch (error) {
        if (request.generation !== this.generation) return null;
        if (isTransient(error) && attempt < RETRY_DELAYS_MS.length) {
          const wait = RETRY_DELAYS_MS[attempt];
          const why = error instanceof ApiError ? `server error ${error.status}` : "offline";
          this.onStatus?.("retry", `Not saved (${why}) · retrying in ${Math.ceil(wait / 1000)} s`);
          await sleep(wait);
          continue;
        }
        if (isTransient(error)) {
          // Kept as unacknowledged: the next change or submit sends it again, same request_id.
          this.onStatus?.("error", "Not saved: the server cannot be reached. Keep this tab open.");
          throw error;
        }
        this.unacknowledged = null;
        if (error instanceof ApiError && error.status === 409 && error.data?.current) {
          const current = error.data.current;
          this.version = current.version;
          this.savedRevision = this.revision;
          this.onConflict?.(current, error);
        } else {
          this.onStatus?.("error", `Not saved: ${error.message}`);
          this.onError?.(error);
        }
        throw error;
      }
    }
  }
}

// The labeling workspace: lease a frame, place keypoints, autosave, submit, lease the next.

import { Api, ApiError } from "./api.js";
import { drawAnimalSet } from "./animals_overlay.js";
import { Animals, fillFrom, matchPredicted } from "./instances.js";
import { InstancePanel } from "./instance_panel.js";
import { drawPoint, drawSkeleton, drawSuggestion } from "./overlay.js";
import { ABSENT, History, OCCLUDED, VISIBLE } from "./points.js";
import { Saver } from "./saver.js";
import { ModelWatch, refreshProgress, Stopwatch } from "./status.js";
import { ImageControls } from "./controls.js";
import { askReason, el, releaseFocusAfterClicks, sharedKeys, Toast, toggleHelp } from "./ui.js";
import { Viewer, loadImage } from "./viewer.js";

const root = document.getElementById("label-app");
const $ = (id) => document.getElementById(id);
const api = new Api(root.dataset.api, root.dataset.csrfToken);
const CONFIDENT = Number(root.dataset.confident || 0.6);
const EMPTY_POLL_MS = 30000;
const SKIP_REASONS = ["Too blurry", "Animal not in view", "Can't tell the body parts apart", "Other animal in the way"];
const FLAG_REASONS = ["Corrupted or black frame", "Wrong video or project", "No animal in the frame", "Duplicate frame"];
// Several animals per frame (the project's max_animals > 1): its names for them, if any.
const MAX_ANIMALS = Number(root.dataset.maxAnimals || 1);
const MULTI = MAX_ANIMALS > 1;
const INDIVIDUALS = JSON.parse($("project-individuals")?.textContent || "[]");
const DUPLICATE_OFFSET_PX = 8; // a duplicated animal is shifted this far, so both show

const state = {
  parts: [],
  edges: [],
  animals: null, // Animals: the frame's instances (one in a single-animal project)
  get set() {
    return this.animals?.set ?? null; // the current instance's points: clicks go there
  },
  active: 0,
  entry: null,
  frame: null,
  source: "human",
  prediction: null, // Map bodypart id → {x, y, likelihood}
  predicted: null, // several animals: [{track, score, points: Map bodypart id → {x, y, likelihood}}]
  // Labels of two or more other views of a multi-camera session, reprojected here:
  // {views: [camera names], points: Map bodypart id → {x, y, views}}; preferred to the model.
  reprojection: null,
  showSuggestions: true,
  showNames: false,
  history: new History(),
  drag: null,
  confirmSubmit: false,
  busy: false,
  emptyTimer: null,
};

let models = null; // ModelWatch, made by start()
const toast = new Toast($("toast"));
const stopwatch = new Stopwatch($("timer"));
const saveState = $("save-state");
const viewer = new Viewer($("canvas"), {
  onDraw: drawOverlay,
  onPress: press,
  onDrag: drag,
  onRelease: release,
  onHover: hover,
});
const imageControls = new ImageControls(root, viewer);
const saver = new Saver({
  api,
  delay: Number(root.dataset.autosaveMs || 1500),
  snapshot: () => ({ points: state.animals.payload(), seconds_spent: stopwatch.seconds, source: state.source }),
  onSaved: (label) => {
    root.dataset.version = label.version;
  },
  // A save the server refused (a 400 says what is wrong): the work stays on the page.
  onError: (error) => toast.show(`Not saved: ${error.message}`, "error"),
  onConflict: (current) => {
    loadLabel(current);
    toast.show(
      `This label was changed elsewhere (now version ${current.version}). The current label is ` +
      "loaded: check it and redo your last change if needed.", "error");
  },
  onStatus: (kind, text) => {
    saveState.dataset.kind = kind;
    saveState.textContent = text;
  },
});

// ---- Loading frames ---------------------------------------------------------------------

async function start() {
  releaseFocusAfterClicks(root);
  try {
    const { data } = await api.get("skeleton/");
    state.parts = data.bodyparts;
    state.edges = data.edges;
    state.animals = new Animals(state.parts, { multi: MULTI, max: MAX_ANIMALS, individuals: INDIVIDUALS });
  } catch (error) {
    showFatal(`Could not load the skeleton: ${error.message}`);
    return;
  }
  models = new ModelWatch(api, $("model-line"), {
    everyMs: 60000,
    onChange: () => {
      if (state.frame) loadPrediction(state.frame.id); // a new model's suggestions
    },
  });
  await loadNext();
}

async function loadNext() {
  clearTimeout(state.emptyTimer);
  root.dataset.state = "loading";
  $("frame-info").textContent = "Loading the next frame…";
  refreshProgress(api, $("progress"));
  let answer;
  try {
    answer = await api.post("queue/next/", {}, { expect: [204] });
  } catch (error) {
    toast.show(`Could not get a frame: ${error.message}`, "error");
    root.dataset.state = "error";
    return;
  }
  if (answer.status === 204 || !answer.data) {
    showEmpty();
    return;
  }
  await showFrame(answer.data);
}

async function showFrame({ entry, frame, label }) {
  state.entry = entry;
  state.frame = frame;
  state.prediction = null;
  state.predicted = null;
  state.reprojection = null;
  state.showSuggestions = true;
  state.confirmSubmit = false;
  loadLabel(label);
  saver.reset(frame.id, label ? label.version : 0, entry.id);
  stopwatch.start(label ? label.seconds_spent || 0 : 0);
  root.dataset.frameId = frame.id;
  root.dataset.entryId = entry.id;
  root.dataset.version = label ? label.version : 0;
  $("workspace").hidden = false;
  $("empty").hidden = true;
  showFrameInfo();
  try {
    viewer.setImage(await loadImage(frame.image_url), frame.width, frame.height);
  } catch (error) {
    toast.show(`${error.message} Skip (s) or flag (f) the frame.`, "error");
  }
  root.dataset.state = "labeling";
  renderAll();
  loadPrediction(frame.id);
  if (!MULTI) loadReprojection(frame.id);
}

function loadLabel(label) {
  state.animals.load(label ? label.points : [], { draft: !label || label.status === "draft" });
  state.source = label && label.source === "corrected_prediction" ? "corrected_prediction" : "human";
  state.history.clear();
  const first = state.set.nextUndone(state.set.length - 1);
  state.active = first >= 0 ? first : 0;
  renderAll();
}

async function loadPrediction(frameId) {
  try {
    if (!(await models.hasModel())) {
      if (state.prediction || state.predicted) {
        state.prediction = null;
        state.predicted = null;
        renderAll();
      }
      return;
    }
    const { status, data } = await api.get(`frames/${frameId}/prediction/`, { expect: [404] });
    if (status === 404 || !data || state.frame?.id !== frameId) return;
    if (MULTI) state.predicted = predictedInstances(data);
    else state.prediction = pointMap(data.points);
    renderAll();
  } catch {
    // Suggestions are a help, not a requirement: label by hand when they fail to load.
  }
}

async function loadReprojection(frameId) {
  try {
    const { status, data } = await api.get(`frames/${frameId}/reprojection/`, { expect: [404] });
    if (status !== 200 || !data?.points?.length || state.frame?.id !== frameId) return;
    state.reprojection = {
      views: data.views,
      points: new Map(data.points.map((p) => [p.bodypart, { ...p, likelihood: 1, fromViews: true }])),
    };
    renderAll();
  } catch {
    // A help like the model's suggestions: label by hand when it fails to load.
  }
}

function pointMap(points) {
  return new Map((points || []).filter((p) => p.x !== null && p.y !== null).map((p) => [p.bodypart, p]));
}

// A multi-animal prediction's animals; an answer with only `points` is one animal.
function predictedInstances(data) {
  const instances = data.instances ?? (data.points?.length ? [{ track: "", points: data.points }] : []);
  return instances.map((i) => ({ track: i.track || "", score: i.score ?? null, points: pointMap(i.points) }))
    .filter((i) => i.points.size);
}

// The predicted animal that belongs to the current instance (see matchPredicted), or null.
function currentPrediction() {
  if (!state.predicted?.length) return null;
  const k = matchPredicted(state.animals, state.predicted).indexOf(state.animals.current);
  return k >= 0 ? state.predicted[k] : null;
}

// The suggestion for a body part: the other views' reprojection where it covers the part,
// else the model's prediction (with several animals: the current animal's).
function suggestionFor(partId) {
  if (MULTI) return currentPrediction()?.points.get(partId);
  return state.reprojection?.points.get(partId) ?? state.prediction?.get(partId);
}

function hasSuggestions() {
  if (MULTI) return !!state.predicted?.length;
  return !!(state.prediction || state.reprojection);
}

function showFrameInfo() {
  const { frame, entry } = state;
  const where = frame.frame_index === null || frame.frame_index === undefined
    ? `Frame ${frame.id}` : `Frame ${frame.frame_index} of video ${frame.video}`;
  const lease = entry.lease_expires_at
    ? ` · lease until ${new Date(entry.lease_expires_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`
    : "";
  $("frame-info").replaceChildren(
    el("span", { textContent: where }),
    el("span", { class: `reason reason-${entry.reason}`, textContent: entry.reason, title: reasonTitle(entry) }),
    el("span", { class: "meta", textContent: `${frame.width}×${frame.height}${lease}` }),
  );
}

function reasonTitle(entry) {
  // Only the scores: components also hold non-numbers (the model's predicted "keypoints", a
  // list; a "strategy" name), which are not reasons to show.
  const parts = Object.entries(entry.components || {})
    .filter(([, v]) => typeof v === "number" && Number.isFinite(v))
    .map(([k, v]) => `${k} ${v.toFixed(2)}`);
  // 3D disagreement names the camera whose view disagrees with the others.
  const camera = typeof entry.components?.camera === "string" ? `, camera ${entry.components.camera}` : "";
  return `Why this frame: ${entry.reason}${camera}, priority ${Number(entry.priority).toFixed(2)}` +
    (parts.length ? ` (${parts.join(", ")})` : "");
}

function showEmpty() {
  state.entry = null;
  state.frame = null;
  saver.reset(null, 0, null);
  stopwatch.stop();
  viewer.clear();
  root.dataset.state = "empty";
  delete root.dataset.frameId;
  $("workspace").hidden = true;
  $("empty").hidden = false;
  $("frame-info").textContent = "Queue empty";
  state.emptyTimer = setTimeout(loadNext, EMPTY_POLL_MS);
}

function showFatal(text) {
  root.dataset.state = "error";
  toast.show(text, "error");
}

// ---- Editing ----------------------------------------------------------------------------

// Undo brings back the active part too, so undoing a placement selects that part again.
function snapshot() {
  return { animals: state.animals.snapshot(), source: state.source, active: state.active };
}

function restore(saved) {
  state.animals.restore(saved.animals);
  state.source = saved.source;
  state.active = saved.active;
}

// Apply `change` (returns false when nothing changed) as one undoable step.
function edit(change) {
  if (!state.frame) return;
  const before = snapshot();
  if (change() === false) return;
  state.history.push(before);
  changed();
}

function changed() {
  state.confirmSubmit = false;
  saver.changed();
  renderAll();
}

function clampToImage(pt) {
  // The API takes x in [0, width], y in [0, height]; the image spans [-0.5, width - 0.5].
  return {
    x: Math.min(state.frame.width - 0.5, Math.max(0, pt.x)),
    y: Math.min(state.frame.height - 0.5, Math.max(0, pt.y)),
  };
}

function press(pt, screen) {
  if (!state.frame || state.busy) return false;
  const hit = state.animals.hit(viewer, screen.x, screen.y);
  if (hit) {
    state.animals.select(hit.instance); // a point of another animal makes it the current one
    select(hit.index);
    state.drag = { index: hit.index, before: snapshot(), moved: false, placed: false };
    return true;
  }
  if (!viewer.contains(pt)) return false;
  const before = snapshot();
  const index = state.active;
  const { x, y } = clampToImage(pt);
  state.set.place(index, x, y);
  state.drag = { index, before, moved: true, placed: true };
  if ($("toast").dataset.kind === "info") toast.hide();
  renderAll();
  return true;
}

function drag(pt) {
  if (!state.drag) return;
  const { x, y } = clampToImage(pt);
  state.set.place(state.drag.index, x, y);
  state.drag.moved = true;
  viewer.render();
}

function release(cancelled) {
  const current = state.drag;
  state.drag = null;
  if (!current || !current.moved) return;
  if (cancelled) {
    restore(current.before);
    renderAll();
    return;
  }
  state.history.push(current.before);
  if (current.placed) {
    const next = state.set.nextUndone(current.index);
    if (next >= 0) state.active = next;
  }
  changed();
}

function hover(pt, screen) {
  const over = !!state.animals?.hit(viewer, screen.x, screen.y);
  viewer.canvas.classList.toggle("over-point", over);
}

function select(index) {
  if (index < 0 || index >= state.parts.length) return;
  state.active = index;
  renderAll();
}

function step(delta) {
  const n = state.parts.length;
  select((state.active + delta + n) % n);
}

function toggleOccluded() {
  const i = state.active;
  edit(() => state.set.setState(i, state.set.at(i).state === OCCLUDED ? VISIBLE : OCCLUDED));
  if (!state.set.isPlaced(i) && state.set.at(i).state === OCCLUDED) {
    toast.show(`${state.parts[i].name} is occluded: click where it is hidden.`);
  }
}

function toggleAbsent() {
  const i = state.active;
  if (state.set.at(i).state === ABSENT) {
    edit(() => state.set.clear(i));
    return;
  }
  edit(() => state.set.setState(i, ABSENT));
  const next = state.set.nextUndone(i);
  if (next >= 0) select(next);
}

function clearActive() {
  edit(() => {
    if (!state.set.isDone(state.active) && state.set.at(state.active).state === VISIBLE) return false;
    return state.set.clear(state.active);
  });
}

function undo() {
  const previous = state.history.undo(snapshot());
  if (!previous) return toast.show("Nothing to undo.");
  restore(previous);
  return changed();
}

function redo() {
  const next = state.history.redo(snapshot());
  if (!next) return toast.show("Nothing to redo.");
  restore(next);
  return changed();
}

// Copy the model's suggestions into the label for undecided parts with likelihood ≥ `min`.
function acceptSuggestions(min) {
  if (!hasSuggestions()) return toast.show("No model suggestions for this frame.");
  if (MULTI) return acceptInstances(min);
  let count = 0;
  edit(() => {
    count = fillFrom(state.set, state.parts, suggestionFor, min);
    if (!count) return false;
    state.source = "corrected_prediction";
    return true;
  });
  if (!count) return toast.show(min > 0 ? `No undecided part has likelihood ≥ ${min}.` : "Nothing to accept.");
  const next = state.set.nextUndone(state.set.length - 1);
  if (next >= 0) state.active = next;
  renderAll();
  return toast.show(`Accepted ${count} suggestion${count === 1 ? "" : "s"}: drag any that are off.`, "ok");
}

// With several animals: every predicted animal fills the instance it belongs to (its track,
// else the nearest, else an empty one) or a new one while max_animals allows, with its track.
function acceptInstances(min) {
  let count = 0;
  edit(() => {
    const before = state.animals.snapshot();
    const { animals } = state;
    const current = animals.current;
    const target = matchPredicted(animals, state.predicted);
    state.predicted.forEach((p, k) => {
      let i = target[k];
      if (i < 0) {
        if (!animals.add()) return;
        i = animals.length - 1;
      }
      const named = !INDIVIDUALS.length || INDIVIDUALS.includes(p.track);
      const free = !animals.list.some((other) => other.track === p.track);
      if (p.track && named && free && animals.isEmpty(i)) animals.setTrack(i, p.track);
      count += fillFrom(animals.list[i].set, state.parts, (id) => p.points.get(id), min);
    });
    if (!count) {
      animals.restore(before);
      return false;
    }
    animals.select(current);
    state.source = "corrected_prediction";
    return true;
  });
  if (!count) return toast.show(min > 0 ? `No undecided part has likelihood ≥ ${min}.` : "Nothing to accept.");
  const next = state.set.nextUndone(state.set.length - 1);
  state.active = next >= 0 ? next : 0;
  renderAll();
  const n = state.animals.kept().length;
  return toast.show(`Accepted ${count} suggestion${count === 1 ? "" : "s"} for ${n} animal${n === 1 ? "" : "s"}: drag any that are off.`, "ok");
}

// ---- Several animals ------------------------------------------------------------------------

// The part to work on in the current animal: its first undecided one.
function firstUndone() {
  const next = state.set.nextUndone(state.set.length - 1);
  return next >= 0 ? next : 0;
}

function animalName(index = state.animals.current) {
  return state.animals.list[index]?.track || `animal ${index + 1}`;
}

function switchAnimal(delta) {
  if (!state.frame || state.animals.length < 2) return;
  state.animals.step(delta);
  state.active = firstUndone();
  renderAll();
}

function selectAnimal(index) {
  if (!state.frame || index === state.animals.current || !state.animals.select(index)) return;
  state.active = firstUndone();
  renderAll();
}

function tooMany() {
  toast.show(`This project has at most ${MAX_ANIMALS} animals per frame.`, "warn");
}

function addAnimal() {
  if (!state.animals.canAdd()) return tooMany();
  return edit(() => {
    state.animals.add();
    state.active = 0;
  });
}

function duplicateAnimal() {
  if (!state.animals.canAdd()) return tooMany();
  if (state.animals.isEmpty(state.animals.current)) return toast.show("Nothing to duplicate: this animal has no point yet.");
  return edit(() => {
    state.animals.duplicate(DUPLICATE_OFFSET_PX, DUPLICATE_OFFSET_PX, state.frame);
    state.active = firstUndone();
  });
}

function deleteAnimal() {
  const name = animalName();
  edit(() => {
    state.animals.remove();
    state.active = firstUndone();
  });
  toast.show(`Deleted ${name} · Ctrl+Z brings it back.`);
}

function setTrack(index, track) {
  edit(() => state.animals.setTrack(index, track));
}

// ---- Submitting, skipping, flagging -------------------------------------------------------

async function submit() {
  if (!state.frame || state.busy) return;
  if (MULTI) {
    await submitAnimals();
    return;
  }
  const undone = state.set.undone();
  if (undone.length && !state.confirmSubmit) {
    state.confirmSubmit = true;
    select(undone[0]);
    const names = undone.map((i) => state.parts[i].name).join(", ");
    toast.show(`Not placed: ${names}. Place them, or press Enter again to submit them as not present.`, "warn", 9000);
    return;
  }
  if (undone.length) edit(() => undone.forEach((i) => state.set.setState(i, ABSENT)));
  await sendSubmit();
}

// Several animals: the undecided parts of every placed animal are confirmed as with one;
// animals without a placed point are not sent.
async function submitAnimals() {
  const { animals } = state;
  const kept = animals.kept();
  const undone = kept.flatMap((k) => animals.list[k].set.undone().map((i) => [k, i]));
  if (!state.confirmSubmit && !kept.length) {
    state.confirmSubmit = true;
    toast.show("No animal placed. Place them, or press Enter again to submit the frame as showing no animal.", "warn", 9000);
    return;
  }
  if (undone.length && !state.confirmSubmit) {
    state.confirmSubmit = true;
    animals.select(undone[0][0]);
    select(undone[0][1]);
    const names = kept.map((k) => [k, animals.list[k].set.undone()]).filter(([, parts]) => parts.length)
      .map(([k, parts]) => `${animalName(k)}: ${parts.map((i) => state.parts[i].name).join(", ")}`);
    toast.show(`Not placed: ${names.join("; ")}. Place them, or press Enter again to submit them as not present.`, "warn", 9000);
    return;
  }
  if (undone.length) edit(() => undone.forEach(([k, i]) => animals.list[k].set.setState(i, ABSENT)));
  await sendSubmit();
}

async function sendSubmit() {
  await leaveFrame(async () => {
    try {
      await saver.flush({ submit: true });
    } catch (error) {
      if (!(await renewedLease(error))) throw error;
      await saver.flush({ submit: true });
    }
    toast.show("Submitted. Next frame…", "ok", 1500);
  });
}

// A submit refused because the lease lapsed: asking for the next frame renews a lease nobody
// else took, and hands back this same entry. True when the submit can be tried again.
async function renewedLease(error) {
  if (!(error instanceof ApiError) || error.status !== 409 || error.data?.current) return false;
  try {
    const { status, data } = await api.post("queue/next/", {}, { expect: [204] });
    return status === 200 && data.entry.id === state.entry.id;
  } catch {
    return false;
  }
}

async function skip() {
  if (!state.entry || state.busy) return;
  const reason = await askReason($("reason-dialog"), { title: "Skip this frame", presets: SKIP_REASONS, confirm: "Skip" });
  if (reason === null) return;
  await leaveFrame(async () => {
    await saver.flush().catch(() => {});
    await api.post(`queue/${state.entry.id}/skip/`, { reason });
    toast.show("Skipped.", "ok", 1500);
  });
}

async function flag() {
  if (!state.entry || state.busy) return;
  const reason = await askReason($("reason-dialog"), { title: "Flag this frame as unusable", presets: FLAG_REASONS, confirm: "Flag" });
  if (reason === null) return;
  await leaveFrame(async () => {
    await saver.flush().catch(() => {});
    await api.post(`queue/${state.entry.id}/flag/`, { reason });
    toast.show("Flagged: the frame leaves the queue.", "ok", 2000);
  });
}

// Run `action` for the current frame, then lease the next one (no page reload).
async function leaveFrame(action) {
  state.busy = true;
  root.classList.add("is-busy");
  try {
    await action();
    await loadNext();
  } catch (error) {
    if (error instanceof ApiError && error.status === 409 && error.data?.current) return; // shown by onConflict
    toast.show(explain(error), "error");
  } finally {
    state.busy = false;
    root.classList.remove("is-busy");
  }
}

function explain(error) {
  if (!(error instanceof ApiError)) return "The server cannot be reached; your work is kept in this tab. Try again.";
  if (error.status === 409 || error.status === 403) {
    return `${error.message} Your points are saved as a draft; the lease on this frame may have expired.`;
  }
  return error.message;
}

// ---- Drawing ----------------------------------------------------------------------------

function drawOverlay(ctx, view) {
  if (!state.set || !state.frame) return;
  if (MULTI) {
    drawAnimals(ctx, view);
    return;
  }
  if (hasSuggestions() && state.showSuggestions) {
    state.parts.forEach((part, i) => {
      const p = suggestionFor(part.id);
      if (p && !state.set.isDone(i)) drawSuggestion(ctx, view, p, part.color, p.likelihood ?? 0);
    });
  }
  drawSkeleton(ctx, view, state.edges, state.set.byName());
  state.parts.forEach((part, i) => {
    if (!state.set.isPlaced(i)) return;
    const active = i === state.active;
    const name = state.showNames || active ? part.name : "";
    drawPoint(ctx, view, state.set.at(i), part.color, { active, name });
  });
}

// Every animal (`drawAnimalSet`), and the model's suggestions where an animal's part is still
// undecided.
function drawAnimals(ctx, view) {
  const { animals } = state;
  if (state.predicted?.length && state.showSuggestions) {
    const target = matchPredicted(animals, state.predicted);
    state.predicted.forEach((p, k) => {
      const set = target[k] >= 0 ? animals.list[target[k]].set : null;
      state.parts.forEach((part, i) => {
        const q = p.points.get(part.id);
        if (q && !set?.isDone(i)) drawSuggestion(ctx, view, q, part.color, q.likelihood ?? 0);
      });
    });
  }
  drawAnimalSet(ctx, view, state);
}

function statusText(i) {
  const p = state.set.at(i);
  if (p.state === ABSENT) return "not present";
  if (!state.set.isPlaced(i)) return p.state === OCCLUDED ? "occluded · click to place" : "";
  return p.state === OCCLUDED ? "occluded" : "placed";
}

function renderParts() {
  const list = $("parts");
  list.replaceChildren(...state.parts.map((part, i) => {
    const p = state.set.at(i);
    const suggestion = suggestionFor(part.id);
    const item = el("li", {
      class: "part",
      dataset: { index: i, state: state.set.isPlaced(i) ? p.state : p.state === ABSENT ? "absent" : "unplaced" },
    },
    el("span", { class: "key", textContent: i < 9 ? String(i + 1) : "" }),
    el("span", { class: "swatch", dataset: { color: part.color } }),
    el("span", { class: "name", textContent: part.name }),
    el("span", { class: "status", textContent: statusText(i) }),
    suggestion?.fromViews && !state.set.isDone(i)
      ? el("span", {
        class: "confidence is-confident from-views",
        title: `From other views: labeled in ${suggestion.views} other cameras, reprojected here`,
        textContent: "3D",
      })
      : suggestion && !state.set.isDone(i)
      ? el("span", {
        class: `confidence${(suggestion.likelihood ?? 0) >= CONFIDENT ? " is-confident" : ""}`,
        title: "Model likelihood for this suggestion",
        textContent: Number(suggestion.likelihood ?? 0).toFixed(2),
      })
      : null);
    if (i === state.active) item.setAttribute("aria-current", "true");
    return item;
  }));
  list.querySelectorAll(".swatch").forEach((s) => {
    s.style.backgroundColor = s.dataset.color;
  });
  list.querySelector("[aria-current]")?.scrollIntoView({ block: "nearest" });
  $("placed-count").textContent = `${state.set.doneCount()} / ${state.parts.length} done`;
}

function renderSuggestions() {
  const box = $("suggestions");
  box.hidden = !hasSuggestions();
  if (!hasSuggestions()) return;
  const values = state.parts.map((part) => suggestionFor(part.id)).filter(Boolean);
  const confident = values.filter((p) => (p.likelihood ?? 0) >= CONFIDENT).length;
  const fromViews = values.filter((p) => p.fromViews).length;
  const animals = MULTI ? `${state.predicted.length} animal${state.predicted.length === 1 ? "" : "s"} predicted; ` +
    `for ${animalName()}: ` : "";
  $("suggestion-info").textContent = `${animals}${values.length} suggested, ${confident} with likelihood ≥ ${CONFIDENT}` +
    (fromViews ? `, ${fromViews} from other views (${state.reprojection.views.join(", ")})` : "") +
    ". Ring opacity shows the likelihood.";
  box.dataset.fromViews = String(fromViews);
  box.querySelector("[data-action=toggle-suggestions]").firstChild.textContent =
    state.showSuggestions ? "Hide " : "Show ";
}

function hint() {
  const part = state.parts[state.active];
  if (!part || !state.frame) return "";
  if (MULTI) return `${animalName()} · ${partHint(part)}`;
  return partHint(part);
}

function partHint(part) {
  if (MULTI && !state.set.undone().length) {
    return "all parts done · n adds an animal · Enter submits · drag a point to move it";
  }
  if (!state.set.undone().length) return "All parts done · Enter submits · drag a point to move it";
  if (state.set.isPlaced(state.active)) return `${part.name} placed · click elsewhere to move it · Tab for the next part`;
  if (state.set.at(state.active).state === ABSENT) return `${part.name} not present · x to undo`;
  return `Click to place ${part.name}${state.set.at(state.active).state === OCCLUDED ? " (occluded)" : ""}`;
}

function renderAll() {
  if (!state.set) return;
  if (MULTI) instancePanel.render(state.animals);
  renderParts();
  renderSuggestions();
  $("stage-hint").textContent = hint();
  root.querySelector("[data-action=undo]").disabled = !state.history.canUndo;
  root.querySelector("[data-action=redo]").disabled = !state.history.canRedo;
  viewer.render();
}

// ---- Input ------------------------------------------------------------------------------

const ACTIONS = {
  help: () => toggleHelp($("help")),
  occluded: toggleOccluded,
  absent: toggleAbsent,
  clear: clearActive,
  undo,
  redo,
  skip,
  flag,
  submit,
  "accept-all": () => acceptSuggestions(0),
  "accept-confident": () => acceptSuggestions(CONFIDENT),
  "toggle-suggestions": () => {
    state.showSuggestions = !state.showSuggestions;
    renderAll();
  },
  "toggle-names": () => {
    state.showNames = !state.showNames;
    viewer.render();
  },
  "check-again": loadNext,
  "add-instance": addAnimal,
  "duplicate-instance": duplicateAnimal,
  "delete-instance": deleteAnimal,
  "previous-instance": () => switchAnimal(-1),
  "next-instance": () => switchAnimal(1),
};

const instancePanel = MULTI
  ? new InstancePanel($("instances"), { individuals: INDIVIDUALS, onSelect: selectAnimal, onTrack: setTrack })
  : null;

// Keys of the animals (several per frame only): none is a shortcut of a single-animal page.
function instanceKey(event) {
  if (!MULTI) return null;
  if ((event.key === "Delete" || event.key === "Backspace") && event.shiftKey) return "delete-instance";
  if (event.shiftKey) return null;
  return { ",": "previous-instance", ".": "next-instance", n: "add-instance", d: "duplicate-instance" }[event.key] ?? null;
}

root.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (button && ACTIONS[button.dataset.action]) ACTIONS[button.dataset.action]();
  const part = event.target.closest(".part");
  if (part) select(Number(part.dataset.index));
});

const KEYS = {
  o: "occluded", x: "absent", s: "skip", f: "flag", a: "accept-all", c: "accept-confident",
  p: "toggle-suggestions", l: "toggle-names", "?": "help", h: "help",
  Delete: "clear", Backspace: "clear", Enter: "submit", " ": "submit",
};

function onKey(event) {
  if (sharedKeys(event, { undo, redo }) || state.drag) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  let handled = true;
  if (/^[1-9]$/.test(event.key)) select(Number(event.key) - 1);
  else if (event.key === "Tab") step(event.shiftKey ? -1 : 1);
  else if (event.key === "ArrowDown" || event.key === "ArrowRight") step(1);
  else if (event.key === "ArrowUp" || event.key === "ArrowLeft") step(-1);
  else if (instanceKey(event)) ACTIONS[instanceKey(event)]();
  else if (event.key === "Escape") state.confirmSubmit = false;
  else if (KEYS[event.key] && ACTIONS[KEYS[event.key]]) ACTIONS[KEYS[event.key]]();
  else if (KEYS[key] && ACTIONS[KEYS[key]] && !event.shiftKey) ACTIONS[KEYS[key]]();
  else handled = imageControls.onKey(event);
  if (handled) event.preventDefault();
}

document.addEventListener("keydown", onKey);

// Leaving or hiding the tab saves what is not saved yet.
document.addEventListener("visibilitychange", () => {
  if (document.hidden && saver.dirty) saver.flush({ keepalive: true }).catch(() => {});
});
window.addEventListener("beforeunload", (event) => {
  if (saver.dirty) {
    saver.flush({ keepalive: true }).catch(() => {});
    event.preventDefault();
  }
});

start();

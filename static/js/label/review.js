// The review workspace: the next submitted label over its frame, with the model's prediction
// and the other annotators' labels overlaid; accept, correct (drag, then save) or reject.

import { drawAnimalSet } from "./animals_overlay.js";
import { Api, ApiError } from "./api.js";
import { ImageControls } from "./controls.js";
import { InstancePanel } from "./instance_panel.js";
import { Animals, instancesOf, matchPredicted } from "./instances.js";
import {
  MODEL_COLOR, OTHERS_COLOR, drawCross, drawDiamond, drawLink, drawPoint, drawSkeleton,
} from "./overlay.js";
import { ABSENT, History, OCCLUDED, PointSet, VISIBLE } from "./points.js";
import { ModelWatch } from "./status.js";
import { ago, askReason, duration, el, releaseFocusAfterClicks, sharedKeys, Toast, toggleHelp } from "./ui.js";
import { Viewer, loadImage } from "./viewer.js";

const root = document.getElementById("review-app");
const $ = (id) => document.getElementById(id);
const api = new Api(root.dataset.api, root.dataset.csrfToken);
const EMPTY_POLL_MS = 30000;
const OTHER_COLORS = [OTHERS_COLOR, "#f472b6", "#a3e635", "#c084fc"];
// Several animals per frame (the project's max_animals > 1): its names for them, if any.
const MAX_ANIMALS = Number(root.dataset.maxAnimals || 1);
const MULTI = MAX_ANIMALS > 1;
const INDIVIDUALS = JSON.parse($("project-individuals")?.textContent || "[]");
const REJECT_REASONS = ["Points on the wrong body part", "Left and right swapped", "Parts missing or marked not present wrongly", "Imprecise placement"];

const state = {
  parts: [],
  edges: [],
  animals: null, // Animals: the label's instances (one in a single-animal project)
  get set() {
    return this.animals?.set ?? null; // the current instance's points
  },
  original: null,
  active: 0,
  label: null,
  frame: null,
  others: [],
  otherSets: [], // per other annotator, a PointSet per animal
  prediction: null, // Map bodypart id → point; with several animals, see `predicted`
  predicted: null, // [{track, points: Map bodypart id → point}]
  history: new History(),
  drag: null,
  busy: false,
  showNames: false,
  emptyTimer: null,
};

let models = null; // ModelWatch, made by start()
const toast = new Toast($("toast"));
const viewer = new Viewer($("canvas"), { onDraw: drawOverlay, onPress: press, onDrag: drag, onRelease: release, onHover: hover });
const imageControls = new ImageControls(root, viewer);
const toggles = { label: $("show-label"), model: $("show-model"), others: $("show-others") };

async function start() {
  releaseFocusAfterClicks(root);
  try {
    const { data } = await api.get("skeleton/");
    state.parts = data.bodyparts;
    state.edges = data.edges;
    state.animals = new Animals(state.parts, { multi: MULTI, max: MAX_ANIMALS, individuals: INDIVIDUALS });
  } catch (error) {
    toast.show(`Could not load the skeleton: ${error.message}`, "error");
    return;
  }
  models = new ModelWatch(api, $("model-line"));
  await loadNext();
}

async function loadNext() {
  clearTimeout(state.emptyTimer);
  root.dataset.state = "loading";
  let answer;
  try {
    answer = await api.post("review/next/", {}, { expect: [204] });
  } catch (error) {
    toast.show(`Could not get a label to review: ${error.message}`, "error");
    return;
  }
  if (answer.status === 204 || !answer.data) {
    showEmpty();
    return;
  }
  const { label, frame, others, suspect } = answer.data;
  Object.assign(state, { label, frame, others: others || [], prediction: null, predicted: null, suspect: !!suspect });
  state.animals.load(label.points);
  state.otherSets = state.others.map((other) => instancesOf(other.points).map((instance) => {
    const set = new PointSet(state.parts);
    set.load(instance.points);
    return set;
  }));
  state.original = JSON.stringify(state.animals.payload());
  state.history.clear();
  state.active = 0;
  $("note").value = "";
  root.dataset.labelId = label.id;
  root.dataset.frameId = frame.id;
  $("workspace").hidden = false;
  $("empty").hidden = true;
  renderInfo();
  try {
    viewer.setImage(await loadImage(frame.image_url), frame.width, frame.height);
  } catch (error) {
    toast.show(error.message, "error");
  }
  root.dataset.state = "reviewing";
  renderAll();
  loadPrediction(frame.id);
}

async function loadPrediction(frameId) {
  try {
    if (!(await models.hasModel())) {
      $("model-state").textContent = "(none yet)";
      return;
    }
    const { status, data } = await api.get(`frames/${frameId}/prediction/`, { expect: [404] });
    if (status === 404 || state.frame?.id !== frameId) {
      $("model-state").textContent = "(none yet)";
      return;
    }
    const pointMap = (points) => new Map((points || []).filter((p) => p.x !== null).map((p) => [p.bodypart, p]));
    if (MULTI) {
      const instances = data.instances ?? (data.points?.length ? [{ track: "", points: data.points }] : []);
      state.predicted = instances.map((i) => ({ track: i.track || "", points: pointMap(i.points) }));
    } else {
      state.prediction = pointMap(data.points);
    }
    $("model-state").textContent = "";
    renderAll();
  } catch {
    $("model-state").textContent = "(unavailable)";
  }
}

function showEmpty() {
  Object.assign(state, { label: null, frame: null, others: [], otherSets: [], prediction: null, predicted: null });
  viewer.clear();
  root.dataset.state = "empty";
  $("workspace").hidden = true;
  $("empty").hidden = false;
  $("frame-info").textContent = "Nothing to review";
  state.emptyTimer = setTimeout(loadNext, EMPTY_POLL_MS);
}

function renderInfo() {
  const { label, frame } = state;
  const where = frame.frame_index === null || frame.frame_index === undefined
    ? `Frame ${frame.id}` : `Frame ${frame.frame_index} of video ${frame.video}`;
  $("frame-info").textContent = `${where} · label by ${label.annotator}`;
  root.dataset.suspect = state.suspect ? "true" : "false";
  const facts = [
    ...(state.suspect ? [["Check", "Unusual skeleton compared with the other labels: likely label error"]] : []),
    ["Annotator", label.annotator], ["Version", `v${label.version}`], ["Source", label.source.replace("_", " ")],
    ["Time spent", duration(label.seconds_spent || 0)], ["Saved", ago(label.updated_at)],
    ["Others", state.others.length ? state.others.map((o) => o.annotator).join(", ") : "none"],
  ];
  $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
  $("others-state").textContent = `(${state.others.length})`;
}

// ---- Editing (corrections) ----------------------------------------------------------------

const modified = () => state.animals && JSON.stringify(state.animals.payload()) !== state.original;

function edit(change) {
  if (!state.label) return;
  const before = state.animals.snapshot();
  if (change() === false) return;
  state.history.push(before);
  renderAll();
}

function press(pt, screen) {
  if (!state.label || state.busy || !toggles.label.checked) return false;
  const hit = state.animals.hit(viewer, screen.x, screen.y);
  if (hit) {
    state.animals.select(hit.instance); // a point of another animal makes it the current one
    state.active = hit.index;
    state.drag = { index: hit.index, before: state.animals.snapshot(), moved: false };
    renderAll();
    return true;
  }
  const before = state.animals.snapshot();
  if (state.set.isPlaced(state.active) || !viewer.contains(pt)) return false;
  state.set.place(state.active, ...clamp(pt));
  state.drag = { index: state.active, before, moved: true };
  renderAll();
  return true;
}

function clamp(pt) {
  return [Math.min(state.frame.width - 0.5, Math.max(0, pt.x)), Math.min(state.frame.height - 0.5, Math.max(0, pt.y))];
}

function drag(pt) {
  if (!state.drag) return;
  state.set.place(state.drag.index, ...clamp(pt));
  state.drag.moved = true;
  renderAll();
}

function release(cancelled) {
  const current = state.drag;
  state.drag = null;
  if (!current?.moved) return;
  if (cancelled) state.animals.restore(current.before);
  else state.history.push(current.before);
  renderAll();
}

function hover(pt, screen) {
  viewer.canvas.classList.toggle("over-point", !!state.animals?.hit(viewer, screen.x, screen.y));
}

function select(index) {
  if (index >= 0 && index < state.parts.length) state.active = index;
  renderAll();
}

function undo() {
  const previous = state.history.undo(state.animals.snapshot());
  if (previous) state.animals.restore(previous);
  renderAll();
}

function redo() {
  const next = state.history.redo(state.animals.snapshot());
  if (next) state.animals.restore(next);
  renderAll();
}

// ---- Several animals ------------------------------------------------------------------------

function selectAnimal(index) {
  if (!state.label || index === state.animals.current || !state.animals.select(index)) return;
  state.active = 0;
  renderAll();
}

function switchAnimal(delta) {
  if (state.label && state.animals.length > 1) selectAnimal((state.animals.current + delta + state.animals.length) % state.animals.length);
}

function addAnimal() {
  if (!state.animals.canAdd()) return toast.show(`This project has at most ${MAX_ANIMALS} animals per frame.`, "warn");
  return edit(() => {
    state.animals.add();
    state.active = 0;
  });
}

function deleteAnimal() {
  edit(() => {
    state.animals.remove();
    state.active = 0;
  });
}

// The predicted animal that belongs to the current instance, as a Map bodypart → point.
function currentPrediction() {
  if (!MULTI) return state.prediction;
  if (!state.predicted?.length) return null;
  const k = matchPredicted(state.animals, state.predicted).indexOf(state.animals.current);
  return k >= 0 ? state.predicted[k].points : null;
}

// Another annotator's animal nearest to the current one (their label may list animals in
// another order), as a Map bodypart → point.
function nearestOther(sets) {
  let best = null;
  let bestDistance = Infinity;
  for (const set of sets) {
    const d = [];
    state.set.points.forEach((p, i) => {
      if (state.set.isPlaced(i) && set.isPlaced(i)) d.push(Math.hypot(p.x - set.at(i).x, p.y - set.at(i).y));
    });
    const mean = d.length ? d.reduce((a, b) => a + b, 0) / d.length : Infinity;
    if (mean < bestDistance) [best, bestDistance] = [set, mean];
  }
  return best && new Map(best.points.map((p, i) => [p.bodypart, best.isPlaced(i) ? p : { ...p, x: null }]));
}

// ---- Decisions ----------------------------------------------------------------------------

async function decide(decision) {
  if (!state.label || state.busy) return;
  let note = $("note").value.trim();
  if (decision === "accept" && modified()) {
    toast.show("You moved points: save them with c (Correct), or undo with Ctrl+Z first.", "warn");
    return;
  }
  if (decision === "correct" && !modified()) {
    toast.show("Nothing corrected yet: drag the points that are off, then press c.", "warn");
    return;
  }
  if (decision === "reject" && !note) {
    note = await askReason($("reason-dialog"), { title: "Reject this label", presets: REJECT_REASONS, confirm: "Reject" });
    if (note === null) return;
  }
  const body = { decision, note };
  if (decision === "correct") body.points = state.animals.payload();
  state.busy = true;
  root.classList.add("is-busy");
  try {
    await api.post(`labels/${state.label.id}/review/`, body);
    const done = { accept: "Accepted.", correct: "Correction saved and accepted.", reject: "Rejected: sent back to the annotator." };
    toast.show(done[decision], "ok", 1800);
    await loadNext();
  } catch (error) {
    toast.show(error instanceof ApiError ? error.message : "The server cannot be reached. Try again.", "error");
  } finally {
    state.busy = false;
    root.classList.remove("is-busy");
  }
}

// ---- Drawing ------------------------------------------------------------------------------

function drawOverlay(ctx, view) {
  if (!state.label) return;
  const showModel = toggles.model.checked && state.prediction;
  if (toggles.others.checked) {
    state.otherSets.forEach((sets, k) => {
      const color = OTHER_COLORS[k % OTHER_COLORS.length];
      for (const set of sets) {
        drawSkeleton(ctx, view, state.edges, set.byName(), { color, alpha: 0.45, dash: [4, 4] });
        set.points.forEach((p, i) => set.isPlaced(i) && drawCross(ctx, view, p, color));
      }
    });
  }
  if (MULTI && toggles.model.checked && state.predicted) {
    const mine = currentPrediction();
    for (const { points } of state.predicted) {
      state.parts.forEach((part, i) => {
        const p = points.get(part.id);
        if (!p) return;
        if (points === mine && toggles.label.checked && state.set.isPlaced(i)) drawLink(ctx, view, state.set.at(i), p, MODEL_COLOR);
        drawDiamond(ctx, view, p);
      });
    }
  }
  if (showModel) {
    state.parts.forEach((part, i) => {
      const p = state.prediction.get(part.id);
      if (!p) return;
      if (toggles.label.checked && state.set.isPlaced(i)) drawLink(ctx, view, state.set.at(i), p, MODEL_COLOR);
      drawDiamond(ctx, view, p);
    });
  }
  if (!toggles.label.checked) return;
  if (MULTI) {
    drawAnimalSet(ctx, view, state);
    return;
  }
  drawSkeleton(ctx, view, state.edges, state.set.byName());
  state.parts.forEach((part, i) => {
    if (!state.set.isPlaced(i)) return;
    const active = i === state.active;
    drawPoint(ctx, view, state.set.at(i), part.color, { active, name: active || state.showNames ? part.name : "" });
  });
}

function distance(a, b) {
  if (!a || !b || a.x === null || b.x === null) return null;
  return Math.hypot(a.x - b.x, a.y - b.y);
}

function renderCompare() {
  const far = 0.02 * Math.hypot(state.frame.width, state.frame.height);
  const others = MULTI ? state.otherSets.map(nearestOther).filter(Boolean)
    : state.others.map((o) => new Map(o.points.map((p) => [p.bodypart, p])));
  const model = currentPrediction();
  const cell = (d) => el("td", { class: d !== null && d > far ? "far" : "", textContent: d === null ? "–" : d.toFixed(1) });
  $("compare").replaceChildren(...state.parts.map((part, i) => {
    const p = state.set.at(i);
    const mine = state.set.isPlaced(i) ? p : null;
    const toOthers = others.map((m) => distance(mine, m.get(part.id))).filter((d) => d !== null);
    const meanOthers = toOthers.length ? toOthers.reduce((s, d) => s + d, 0) / toOthers.length : null;
    const row = el("tr", { dataset: { index: i } },
      el("td", {}, el("span", { class: "key", textContent: i < 9 ? `${i + 1} ` : "" }), part.name),
      el("td", { textContent: p.state === ABSENT || !mine ? "absent" : p.state }),
      cell(distance(mine, model?.get(part.id))),
      cell(meanOthers));
    if (i === state.active) row.setAttribute("aria-current", "true");
    return row;
  }));
}

function renderAll() {
  if (!state.label) return;
  if (MULTI) instancePanel.render(state.animals);
  renderCompare();
  const changedNow = modified();
  root.querySelector("[data-action=correct]").disabled = !changedNow;
  root.querySelector("[data-action=undo]").disabled = !state.history.canUndo;
  root.querySelector("[data-action=redo]").disabled = !state.history.canRedo;
  $("save-state").dataset.kind = changedNow ? "dirty" : "saved";
  $("save-state").textContent = changedNow ? "Corrected, not saved: press c" : "Unchanged";
  const part = state.parts[state.active];
  const animal = MULTI ? `${state.animals.track || `animal ${state.animals.current + 1}`} · ` : "";
  $("stage-hint").textContent = part ? `${animal}Active: ${part.name} · drag points to correct` : "";
  viewer.render();
}

// ---- Input --------------------------------------------------------------------------------

const ACTIONS = {
  help: () => toggleHelp($("help")),
  accept: () => decide("accept"),
  correct: () => decide("correct"),
  reject: () => decide("reject"),
  occluded: () => edit(() => state.set.setState(state.active, state.set.at(state.active).state === OCCLUDED ? VISIBLE : OCCLUDED)),
  absent: () => edit(() => (state.set.at(state.active).state === ABSENT
    ? state.set.clear(state.active) : state.set.setState(state.active, ABSENT))),
  undo,
  redo,
  "check-again": loadNext,
  "add-instance": addAnimal,
  "delete-instance": deleteAnimal,
  "previous-instance": () => switchAnimal(-1),
  "next-instance": () => switchAnimal(1),
};

const instancePanel = MULTI
  ? new InstancePanel($("instances"), {
    individuals: INDIVIDUALS,
    onSelect: selectAnimal,
    onTrack: (index, track) => edit(() => state.animals.setTrack(index, track)),
  })
  : null;

root.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (button && ACTIONS[button.dataset.action]) ACTIONS[button.dataset.action]();
  const row = event.target.closest("#compare tr");
  if (row) select(Number(row.dataset.index));
});
Object.values(toggles).forEach((box) => box.addEventListener("change", () => viewer.render()));

function flip(box) {
  box.checked = !box.checked;
  viewer.render();
}

const KEYS = {
  a: "accept", c: "correct", r: "reject", o: "occluded", x: "absent", "?": "help", h: "help",
};

function onKey(event) {
  if (event.target.id === "note" && event.key === "Escape") {
    event.target.blur();
    return;
  }
  const activators = "button, a, input[type=checkbox]";
  if (sharedKeys(event, { undo, redo, activators }) || state.drag) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  let handled = true;
  const n = state.parts.length;
  if (/^[1-9]$/.test(event.key)) select(Number(event.key) - 1);
  else if (event.key === "Tab") select((state.active + (event.shiftKey ? n - 1 : 1)) % n);
  else if (event.key === "ArrowDown" || event.key === "ArrowRight") select((state.active + 1) % n);
  else if (event.key === "ArrowUp" || event.key === "ArrowLeft") select((state.active + n - 1) % n);
  else if (MULTI && (event.key === "Delete" || event.key === "Backspace") && event.shiftKey) deleteAnimal();
  else if (MULTI && event.key === ",") switchAnimal(-1);
  else if (MULTI && event.key === ".") switchAnimal(1);
  else if (event.key === "Enter") decide(modified() ? "correct" : "accept");
  else if (key === "n") $("note").focus();
  else if (key === "v") flip(toggles.label);
  else if (key === "m") flip(toggles.model);
  else if (key === "t") flip(toggles.others);
  else if (key === "l") {
    state.showNames = !state.showNames;
    viewer.render();
  } else if (KEYS[event.key]) ACTIONS[KEYS[event.key]]();
  else if (KEYS[key] && !event.shiftKey) ACTIONS[KEYS[key]]();
  else handled = imageControls.onKey(event);
  if (handled) event.preventDefault();
}

document.addEventListener("keydown", onKey);
start();

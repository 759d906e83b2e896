// The side panel's list of a frame's animals: colour, track (a select of the project's
// individuals, else free text), how many parts are placed; the current one highlighted.
// Shared by the labeling and review workspaces.

import { instanceColor } from "./instances.js";
import { el } from "./ui.js";

const MAX_TRACK_LENGTH = 40;

export class InstancePanel {
  // node: the <ol>; onSelect(index); onTrack(index, track).
  constructor(node, { individuals = [], onSelect, onTrack }) {
    Object.assign(this, { node, individuals, onSelect, onTrack });
    node.addEventListener("click", (event) => {
      const item = event.target.closest(".instance");
      if (item && !event.target.closest(".track")) onSelect(Number(item.dataset.index));
    });
    node.addEventListener("focusin", (event) => {
      const item = event.target.closest(".instance");
      if (item && event.target.closest(".track")) onSelect(Number(item.dataset.index));
    });
    node.addEventListener("change", (event) => {
      const field = event.target.closest(".track");
      if (!field) return;
      const index = Number(field.closest(".instance").dataset.index);
      const track = field.value.trim(); // read first: selecting redraws the panel
      onSelect(index); // the animal being named becomes the current one
      onTrack(index, track);
      field.blur(); // the next key is a shortcut again
    });
    node.addEventListener("keydown", (event) => {
      const field = event.target.closest("input.track");
      if (!field) return;
      if (event.key === "Enter") field.blur();
      if (event.key === "Escape") {
        field.value = field.dataset.track;
        field.blur();
      }
    });
  }

  // Rebuilt when the number of animals changes; otherwise updated in place, so a track being
  // typed is not lost when the page redraws.
  render(animals) {
    if (this.node.children.length !== animals.length) {
      this.node.replaceChildren(...animals.list.map((_, i) => this.item(i)));
    }
    const duplicates = animals.duplicateTracks();
    animals.list.forEach((animal, i) => {
      const item = this.node.children[i];
      const field = item.querySelector(".track");
      if (document.activeElement !== field && field.value !== animal.track) {
        if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === animal.track)) {
          field.append(el("option", { value: animal.track, textContent: animal.track }));
        }
        field.value = animal.track;
      }
      field.dataset.track = animal.track;
      item.classList.toggle("is-duplicate", duplicates.has(i));
      item.title = duplicates.has(i) ? "Two animals have this track: give each its own." : "";
      item.querySelector(".count").textContent = `${animals.placedCount(i)} / ${animals.parts.length}`;
      if (i === animals.current) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    });
  }

  item(i) {
    const label = `Track of animal ${i + 1}`;
    const field = this.individuals.length
      ? el("select", { class: "track", ariaLabel: label },
        el("option", { value: "", textContent: "— no name —" }),
        ...this.individuals.map((name) => el("option", { value: name, textContent: name })))
      : el("input", { class: "track", type: "text", maxLength: MAX_TRACK_LENGTH, placeholder: "track name", ariaLabel: label });
    const swatch = el("span", { class: "swatch" });
    swatch.style.backgroundColor = instanceColor(i);
    return el("li", { class: "instance", dataset: { index: i } },
      el("span", { class: "key", textContent: String(i + 1) }), swatch, field, el("span", { class: "count meta" }));
  }
}

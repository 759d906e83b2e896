// Small page helpers shared by the labeling and review workspaces: messages, the reason
// dialog, the help overlay, keyboard focus rules and time formatting.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// A short message over the canvas; errors stay until replaced, others fade.
export class Toast {
  constructor(node) {
    this.node = node;
    this.timer = null;
  }

  show(text, kind = "info", ms = 4000) {
    clearTimeout(this.timer);
    this.node.textContent = text;
    this.node.dataset.kind = kind;
    this.node.hidden = false;
    if (kind !== "error") this.timer = setTimeout(() => this.hide(), ms);
  }

  hide() {
    this.node.hidden = true;
  }
}

// Asks for a reason in the page's <dialog>; resolves to the text, or null when cancelled.
export function askReason(dialog, { title, presets = [], confirm = "OK", required = true }) {
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("[name=reason]");
  const chips = dialog.querySelector("[data-presets]");
  dialog.querySelector("[data-title]").textContent = title;
  dialog.querySelector("[data-confirm]").textContent = confirm;
  input.value = "";
  input.required = required;
  chips.replaceChildren(
    ...presets.map((text, i) => el("button", {
      type: "button", class: "chip-button", textContent: `${i + 1} · ${text}`, dataset: { reason: text },
    })),
  );
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      chips.removeEventListener("click", onChip);
      dialog.removeEventListener("keydown", onKey);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      if (event.submitter?.value === "cancel") return done(null);
      const value = input.value.trim();
      if (required && !value) return input.focus();
      return done(value);
    };
    const onChip = (event) => {
      const reason = event.target.closest("[data-reason]")?.dataset.reason;
      if (reason) done(reason);
    };
    // Digits pick a preset while the text field is still empty.
    const onKey = (event) => {
      const n = Number(event.key);
      if (!input.value && n >= 1 && n <= presets.length) {
        event.preventDefault();
        done(presets[n - 1]);
      }
    };
    const onClose = () => done(null);
    form.addEventListener("submit", onSubmit);
    chips.addEventListener("click", onChip);
    dialog.addEventListener("keydown", onKey);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    input.focus();
  });
}

export function toggleHelp(overlay, show = overlay.hidden) {
  overlay.hidden = !show;
  if (show) overlay.querySelector("[data-close]")?.focus();
}

// True when a key press belongs to a form field rather than to the workspace.
export function typingInto(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  if (target.tagName === "INPUT") return target.type !== "range" && target.type !== "checkbox";
  return target.closest("dialog[open]") !== null;
}

// The keyboard rules both workspaces apply before their own shortcuts: text fields and Alt
// chords keep their keys; while the help is open a key only closes it; Ctrl/Cmd+Z undoes and
// Ctrl/Cmd+Shift+Z or Ctrl/Cmd+Y redoes; sliders keep their arrows, and focused `activators`
// (buttons, links…) keep Enter and Space. True when the page's own shortcuts must not run.
export function sharedKeys(event, { undo, redo, activators = "button, a" }) {
  if (typingInto(event.target) || event.altKey) return true;
  const help = document.getElementById("help");
  if (!help.hidden) {
    if (["Escape", "?", "h"].includes(event.key)) toggleHelp(help, false);
    event.preventDefault();
    return true;
  }
  if (event.ctrlKey || event.metaKey) {
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "z" && !event.shiftKey) undo();
    else if ((key === "z" && event.shiftKey) || key === "y") redo();
    else return true;
    event.preventDefault();
    return true;
  }
  if (event.target.matches?.("input[type=range]") && event.key.startsWith("Arrow")) return true;
  return Boolean(event.target.closest?.(activators)) && (event.key === "Enter" || event.key === " ");
}

// Buttons clicked with the mouse give focus back to the page, so the next key is a shortcut.
export function releaseFocusAfterClicks(root) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button && event.detail > 0 && !button.closest("dialog")) button.blur();
  });
}

export function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function duration(seconds) {
  const s = Math.floor(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

export function fixed(value, digits = 1) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

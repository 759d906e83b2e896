// Brightness/contrast sliders and the view keys (zoom, fit), shared by both workspaces.

const STEP = 10;

export class ImageControls {
  constructor(root, viewer) {
    this.viewer = viewer;
    this.brightness = root.querySelector("#brightness");
    this.contrast = root.querySelector("#contrast");
    for (const input of [this.brightness, this.contrast]) {
      input.addEventListener("input", () => this.apply());
    }
    root.addEventListener("click", (event) => {
      const action = event.target.closest("[data-action]")?.dataset.action;
      if (action === "fit") viewer.fit();
      if (action === "reset-image") this.reset();
    });
    this.apply();
  }

  apply() {
    const b = Number(this.brightness.value);
    const c = Number(this.contrast.value);
    document.getElementById("brightness-value").textContent = `${b}%`;
    document.getElementById("contrast-value").textContent = `${c}%`;
    this.viewer.setAdjustments(b, c);
  }

  nudge(input, delta) {
    input.value = String(Number(input.value) + delta);
    this.apply();
  }

  reset() {
    this.brightness.value = "100";
    this.contrast.value = "100";
    this.apply();
  }

  // Handles a view key; returns true when it did.
  onKey(event) {
    switch (event.key) {
      case "+":
      case "=":
        this.viewer.zoomAt(1.25);
        return true;
      case "-":
      case "_":
        this.viewer.zoomAt(0.8);
        return true;
      case "0":
        this.viewer.fit();
        return true;
      case "[":
        this.nudge(this.brightness, -STEP);
        return true;
      case "]":
        this.nudge(this.brightness, STEP);
        return true;
      case "{":
        this.nudge(this.contrast, -STEP);
        return true;
      case "}":
        this.nudge(this.contrast, STEP);
        return true;
      case "\\":
        this.reset();
        return true;
      default:
        return false;
    }
  }
}

// One image on a canvas: wheel zoom around the cursor, pan, brightness/contrast, and an overlay
// the page draws on top. Image coordinates put pixel centers at integers (pixel i covers
// [i - 0.5, i + 0.5]), so screen = (image + 0.5) * scale + offset.

const MIN_ZOOM_OF_FIT = 0.5;
const MAX_SCALE = 48;
const PAN_BUTTONS = new Set([1, 2]); // middle, right

export class Viewer {
  constructor(canvas, handlers = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.handlers = handlers; // onDraw(ctx, viewer), onPress(pt, event) → bool, onDrag, onRelease, onHover
    this.image = null;
    this.width = 0;
    this.height = 0;
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.brightness = 100;
    this.contrast = 100;
    this.gesture = null; // {kind: "pan"|"drag", ...}
    this.frameRequested = false;
    this.fitted = false;

    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
    canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    canvas.addEventListener("pointercancel", (e) => this.onPointerUp(e));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("auxclick", (e) => e.preventDefault());
    this.resize();
  }

  setImage(image, width, height) {
    this.image = image;
    this.width = width || image.naturalWidth;
    this.height = height || image.naturalHeight;
    this.fit();
  }

  clear() {
    this.image = null;
    this.render();
  }

  resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = Math.max(1, Math.floor(box.width));
    this.cssHeight = Math.max(1, Math.floor(box.height));
    this.canvas.width = Math.round(this.cssWidth * dpr);
    this.canvas.height = Math.round(this.cssHeight * dpr);
    this.canvas.style.width = `${this.cssWidth}px`;
    this.canvas.style.height = `${this.cssHeight}px`;
    if (this.fitted) this.fit();
    else this.render();
  }

  get fitScale() {
    if (!this.width || !this.height) return 1;
    return Math.min(this.cssWidth / this.width, this.cssHeight / this.height) * 0.96;
  }

  fit() {
    this.scale = this.fitScale;
    this.tx = (this.cssWidth - this.width * this.scale) / 2;
    this.ty = (this.cssHeight - this.height * this.scale) / 2;
    this.fitted = true;
    this.render();
  }

  toImage(sx, sy) {
    return { x: (sx - this.tx) / this.scale - 0.5, y: (sy - this.ty) / this.scale - 0.5 };
  }

  toScreen(x, y) {
    return { x: (x + 0.5) * this.scale + this.tx, y: (y + 0.5) * this.scale + this.ty };
  }

  contains(pt) {
    return pt.x >= -0.5 && pt.y >= -0.5 && pt.x <= this.width - 0.5 && pt.y <= this.height - 0.5;
  }

  // Zoom by `factor`, keeping the image point under (sx, sy) where it is.
  zoomAt(factor, sx = this.cssWidth / 2, sy = this.cssHeight / 2) {
    const min = this.fitScale * MIN_ZOOM_OF_FIT;
    const scale = Math.min(MAX_SCALE, Math.max(min, this.scale * factor));
    const ux = (sx - this.tx) / this.scale;
    const uy = (sy - this.ty) / this.scale;
    this.scale = scale;
    this.tx = sx - ux * scale;
    this.ty = sy - uy * scale;
    this.fitted = false;
    this.render();
  }

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.fitted = false;
    this.render();
  }

  setAdjustments(brightness, contrast) {
    this.brightness = brightness;
    this.contrast = contrast;
    this.render();
  }

  local(event) {
    const box = this.canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  onWheel(event) {
    event.preventDefault();
    const { x, y } = this.local(event);
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    this.zoomAt(Math.exp(-delta * 0.0015), x, y);
  }

  onPointerDown(event) {
    const screen = this.local(event);
    const wantsPan = PAN_BUTTONS.has(event.button) || (event.button === 0 && event.shiftKey);
    if (wantsPan) {
      event.preventDefault();
      this.gesture = { kind: "pan", x: screen.x, y: screen.y, tx: this.tx, ty: this.ty };
      this.canvas.classList.add("is-panning");
    } else if (event.button === 0 && this.image && this.handlers.onPress) {
      const pt = this.toImage(screen.x, screen.y);
      if (this.handlers.onPress(pt, screen, event)) this.gesture = { kind: "drag" };
    }
    if (this.gesture) this.canvas.setPointerCapture(event.pointerId);
  }

  onPointerMove(event) {
    const screen = this.local(event);
    if (this.gesture?.kind === "pan") {
      this.tx = this.gesture.tx + screen.x - this.gesture.x;
      this.ty = this.gesture.ty + screen.y - this.gesture.y;
      this.fitted = false;
      this.render();
    } else if (this.gesture?.kind === "drag") {
      this.handlers.onDrag?.(this.toImage(screen.x, screen.y), event);
    } else if (this.image) {
      this.handlers.onHover?.(this.toImage(screen.x, screen.y), screen, event);
    }
  }

  onPointerUp(event) {
    if (!this.gesture) return;
    const gesture = this.gesture;
    this.gesture = null;
    this.canvas.classList.remove("is-panning");
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    if (gesture.kind === "drag") this.handlers.onRelease?.(event.type === "pointercancel");
  }

  render() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  draw() {
    const ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    if (!this.image) return;
    ctx.save();
    ctx.filter = `brightness(${this.brightness}%) contrast(${this.contrast}%)`;
    // Past 5 screen pixels per image pixel, show pixels as squares: precise placement needs them.
    ctx.imageSmoothingEnabled = this.scale < 5;
    ctx.drawImage(this.image, this.tx, this.ty, this.width * this.scale, this.height * this.scale);
    ctx.restore();
    this.handlers.onDraw?.(ctx, this);
  }
}

// Loads an image; resolves once it can be drawn.
export function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = "async";
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`Could not load the frame image (${url}).`));
    image.src = url;
  });
}

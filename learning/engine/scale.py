"""Input scale chosen from the labels: the smallest "round" resize factor at which the
network still resolves the keypoints.

The rule (all sizes median over the labeled frames, in original-image pixels):

- spacing: per frame, the median over labeled keypoints of the distance to the nearest other
  keypoint. After scaling it must span at least MIN_SPACING_CELLS heatmap cells
  (spacing x scale >= MIN_SPACING_CELLS x heatmap_stride), else neighbouring parts' heatmap
  peaks merge.
- animal: the diagonal of the labeled keypoints' bounding box must stay at least MIN_ANIMAL_PX
  network pixels, so the animal keeps some detail.
- image: the scaled image's longest side should be at least MIN_SIDE_PX (context for the
  backbone's receptive field) and at most MAX_SIDE_PX (memory and time).

The choice is the smallest scale of LADDER meeting the three lower bounds (the network's cost
grows with the square of the scale, so a larger scale than needed only costs time), unless it
exceeds the image cap: then the largest ladder scale within the cap. Without labels the default
0.5 is kept. On openfield (640×480, ear–snout spacing ~13 px) this gives 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from learning.engine.config import ModelConfig
from learning.engine.data import PoseSample

LADDER: tuple[float, ...] = (0.25, 0.33, 0.5, 0.75, 1.0, 1.5, 2.0)
DEFAULT_SCALE = 0.5
MIN_SPACING_CELLS = 1.25
MIN_ANIMAL_PX = 48.0
MIN_SIDE_PX = 256.0
MAX_SIDE_PX = 800.0
MAX_IMAGES_READ = 64  # image sizes are read from the headers of at most this many files


@dataclass(frozen=True)
class ScaleChoice:
    """The chosen scale and why; `animal_px`, `spacing_px` and `image_px` (width, height) are
    the medians measured in original-image pixels (NaN / (0, 0) when unknown)."""

    scale: float
    reason: str
    animal_px: float
    spacing_px: float
    image_px: tuple[int, int]


def _frame_sizes(keypoints: np.ndarray) -> tuple[float, float]:
    """(median nearest-neighbour distance, bounding-box diagonal) of one frame's points."""
    if len(keypoints) < 2:
        return math.nan, math.nan
    dist = np.linalg.norm(keypoints[:, None] - keypoints[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    diagonal = float(np.linalg.norm(keypoints.max(0) - keypoints.min(0)))
    return float(np.median(dist.min(axis=1))), diagonal


def _image_size(samples: Sequence[PoseSample]) -> tuple[int, int]:
    """Median (width, height) over up to MAX_IMAGES_READ evenly spread samples' files."""
    step = max(1, len(samples) // MAX_IMAGES_READ)
    sizes = []
    for sample in samples[::step][:MAX_IMAGES_READ]:
        try:
            with Image.open(sample.image_path) as image:
                sizes.append(image.size)
        except OSError:
            continue
    if not sizes:
        return 0, 0
    longest = sorted(sizes, key=max)[len(sizes) // 2]
    return int(longest[0]), int(longest[1])


def choose_input_scale(samples: Sequence[PoseSample],
                       heatmap_stride: int = ModelConfig.heatmap_stride) -> ScaleChoice:
    """The input scale for a project labeled with `samples` (see the module docstring)."""
    sizes = [_frame_sizes(s.keypoints[s.present]) for s in samples]
    spacing = float(np.nanmedian([a for a, _ in sizes])) if any(
        np.isfinite(a) for a, _ in sizes) else math.nan
    animal = float(np.nanmedian([b for _, b in sizes])) if any(
        np.isfinite(b) for _, b in sizes) else math.nan
    image = _image_size(samples) if samples else (0, 0)
    side = max(image)
    needs: list[tuple[float, str]] = []
    if math.isfinite(spacing) and spacing > 0:
        needs.append((MIN_SPACING_CELLS * heatmap_stride / spacing,
                      f"keypoints {spacing:.0f} px apart need ≥ "
                      f"{MIN_SPACING_CELLS * heatmap_stride:g} px at the network"))
    if math.isfinite(animal) and animal > 0:
        needs.append((MIN_ANIMAL_PX / animal,
                      f"the animal ({animal:.0f} px) needs ≥ {MIN_ANIMAL_PX:g} px"))
    if side > 0:
        needs.append((MIN_SIDE_PX / side, f"{side} px images need ≥ {MIN_SIDE_PX:g} px"))
    if not needs:
        return ScaleChoice(DEFAULT_SCALE, "no labels to measure: the default",
                           animal, spacing, image)
    need, why = max(needs)
    scale = next((s for s in LADDER if s >= need - 1e-9), LADDER[-1])
    reason = f"the smallest scale at which {why}"
    if side > 0 and scale * side > MAX_SIDE_PX:
        fits = [s for s in LADDER if s * side <= MAX_SIDE_PX]
        scale = fits[-1] if fits else LADDER[0]
        reason = f"{side} px images capped at {MAX_SIDE_PX:g} px (wanted: {why})"
    measured = f"{len(samples)} labeled frames"
    if side > 0:
        measured += f", images {image[0]}×{image[1]}"
    return ScaleChoice(scale, f"{reason} ({measured})", animal, spacing, image)

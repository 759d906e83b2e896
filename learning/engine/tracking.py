"""Tracked-crop video analysis: run the network on a window around the animal, not the frame.

PoseLoop models are fully convolutional and trained on crops around the animal, so a
single-animal video can be analysed on a `crop_size` window centred where the animal was in the
previous batch, at a fraction of the cost of the whole frame (openfield: a 160 x 160 window
instead of 320 x 256 network pixels; on its labeled frames the window's keypoints are on
average 0.04 px from the whole frame's, at most 0.39 px on the test split).
A frame falls back to the whole frame when the window result cannot be trusted:

- any keypoint's peak likelihood is below `min_likelihood` (the whole frame may hold a higher
  peak elsewhere), or
- any peak lies within `border_px` of the window's edge (the animal may extend past it).

Window corners are multiples of 32 (the backbone's stride), so the window's feature grid is the
frame's; what can still differ is the context beyond the window, which `border_px` keeps away.

Every `keyframe_interval`-th frame (counted from frame 0 of the video) and the first frame of a
range are analysed whole and re-centre the window, so a range that starts on a keyframe gives
exactly what one pass over the video gives (chunked analysis relies on that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from learning.engine.config import ModelConfig
from learning.engine.data import cut_window
from learning.engine.decode import Refine, decode
from learning.engine.export import Runner
from learning.engine.video import FrameBatch, analyze_video, decode_outputs

ALIGN = 32  # the backbone's output stride


@dataclass(frozen=True)
class TrackingConfig:
    """Window size and trust thresholds (network-input pixels)."""

    crop_size: int = 160
    min_likelihood: float = 0.5
    border_px: float = 12.0
    keyframe_interval: int = 256

    def __post_init__(self) -> None:
        if self.crop_size < 32 or self.crop_size % 32:
            raise ValueError("crop_size must be a positive multiple of 32")
        if not 0.0 <= self.min_likelihood <= 1.0:
            raise ValueError("min_likelihood must be in [0, 1]")
        if self.border_px < 0 or self.keyframe_interval < 1:
            raise ValueError("border_px must be >= 0 and keyframe_interval >= 1")


@dataclass
class TrackingStats:
    """How many frames ran on the window and how many on the whole frame."""

    cropped: int = 0
    full: int = 0

    @property
    def crop_share(self) -> float:
        total = self.cropped + self.full
        return self.cropped / total if total else 0.0


def window_origin(center: np.ndarray, size: int, height: int, width: int,
                  align: int = ALIGN) -> tuple[int, int]:
    """(left, top) of a size x size window near-centred on `center` (x, y): multiples of `align`
    (the network's largest stride, so the window's feature grid coincides with the frame's) and
    inside the frame when the frame is larger than the window."""
    left = int(round((center[0] - size / 2) / align)) * align
    top = int(round((center[1] - size / 2) / align)) * align
    left = min(max(left, 0), max(0, (width - size) // align * align))
    top = min(max(top, 0), max(0, (height - size) // align * align))
    return left, top


def cut_windows(images: np.ndarray, origins: list[tuple[int, int]], size: int) -> np.ndarray:
    """uint8 (B, size, size, 3) windows of `images` (B, H, W, 3); outside the frame is zero."""
    return np.stack([cut_window(image, left, top, size, size)
                     for image, (left, top) in zip(images, origins, strict=True)])


class CropTracker:
    """Analyses batches, carrying the window centre from one batch to the next."""

    def __init__(self, runner: Runner, cfg: ModelConfig, tracking: TrackingConfig,
                 refine: Refine = "locref") -> None:
        self.runner, self.cfg, self.tracking, self.refine = runner, cfg, tracking, refine
        self.center: np.ndarray | None = None  # network-input pixels (x, y)
        self.stats = TrackingStats()

    def _full(self, batch: FrameBatch, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole-frame poses of `rows`: (original-pixel poses, network-pixel xy)."""
        heatmaps, locref = self.runner(batch.images[rows])
        poses = decode_outputs(self.cfg, heatmaps, locref, batch.scales[rows], self.refine)
        self.stats.full += len(rows)
        xy = (poses[..., :2] + 0.5) * batch.scales[rows][:, None, :] - 0.5  # network pixels
        return poses, xy

    def _recenter(self, xy: np.ndarray, likelihood: np.ndarray) -> None:
        confident = likelihood >= self.tracking.min_likelihood
        self.center = xy[confident].mean(axis=0) if confident.any() else None

    def __call__(self, batch: FrameBatch, keyframe_rows: set[int]) -> np.ndarray:
        """Poses float32 (B, K, 3) of one batch; rows in `keyframe_rows` run whole."""
        n = len(batch.images)
        size = self.tracking.crop_size
        height, width = batch.images.shape[1:3]
        poses = np.zeros((n, self.cfg.num_keypoints, 3), dtype=np.float32)
        if size * size >= height * width:  # the window would not be smaller than the frame
            keyframe_rows = set(range(n))
        todo = list(range(n))
        while todo:
            row = todo[0]
            if row in keyframe_rows or self.center is None:
                full, xy = self._full(batch, np.array([row]))
                poses[row] = full[0]
                self._recenter(xy[0], full[0, :, 2])
                todo.pop(0)
                continue
            # Every row up to the next keyframe runs in one window batch around the centre.
            end = next((i for i, r in enumerate(todo) if r in keyframe_rows), len(todo))
            rows = np.array(todo[:end])
            todo = todo[end:]
            poses[rows] = self._windows(batch, rows)
        return poses

    def _windows(self, batch: FrameBatch, rows: np.ndarray) -> np.ndarray:
        size, track = self.tracking.crop_size, self.tracking
        height, width = batch.images.shape[1:3]
        assert self.center is not None
        origin = window_origin(self.center, size, height, width)
        windows = cut_windows(batch.images[rows], [origin] * len(rows), size)
        heatmaps, locref = self.runner(windows)
        xy_t, likelihood_t = decode(self.cfg, heatmaps, locref, self.refine)
        xy, likelihood = xy_t.numpy(), likelihood_t.numpy()
        margin = track.border_px
        inner = ((xy >= margin) & (xy <= size - 1 - margin)).all(axis=-1)
        # A window edge that is also the frame's edge is not a cut: nothing lies beyond it.
        left, top = origin
        at_frame_edge = (
            ((xy[..., 0] < margin) & (left <= 0))
            | ((xy[..., 0] > size - 1 - margin) & (left + size >= width))
            | ((xy[..., 1] < margin) & (top <= 0))
            | ((xy[..., 1] > size - 1 - margin) & (top + size >= height))
        )
        trusted = ((likelihood >= track.min_likelihood) & (inner | at_frame_edge)).all(axis=-1)
        xy_frame = xy + np.array(origin, dtype=np.float32)
        scales = batch.scales[rows][:, None, :]
        out = np.concatenate([(xy_frame + 0.5) / scales - 0.5, likelihood[..., None]], axis=-1)
        out = out.astype(np.float32)
        self.stats.cropped += int(trusted.sum())
        redo = rows[~trusted]
        if len(redo):
            full, _ = self._full(batch, redo)
            out[~trusted] = full
        last_xy = (out[-1, :, :2] + 0.5) * batch.scales[rows[-1]] - 0.5  # network pixels
        self._recenter(last_xy, out[-1, :, 2])
        return out


def analyze_video_tracked(
    path: str | Path,
    runner: Runner,
    cfg: ModelConfig,
    tracking: TrackingConfig | None = None,
    *,
    start: int = 0,
    refine: Refine = "locref",
    **options: Any,
) -> tuple[np.ndarray, TrackingStats]:
    """`video.analyze_video` (same options: stop, batch_size, progress, prefetch) on windows
    around the animal where that is trusted (see the module docstring); also returns how many
    frames ran on windows and how many whole."""
    tracking = tracking or TrackingConfig()
    tracker = CropTracker(runner, cfg, tracking, refine)

    def batch_poses(batch: FrameBatch) -> np.ndarray:
        keyframes = {i for i in range(len(batch.images))
                     if (batch.start + i) % tracking.keyframe_interval == 0
                     or batch.start + i == start}
        return tracker(batch, keyframes)

    poses = analyze_video(path, runner, cfg, start=start, refine=refine,
                          batch_poses=batch_poses, **options)
    return poses, tracker.stats

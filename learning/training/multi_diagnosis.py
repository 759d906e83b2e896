"""Why a multi-animal model's test error is what it is: checks `bench multi --diagnose` runs.

Each check reuses the trained predictor and the project's labels; none trains anything.

- `held_out_in_train_range` (`accuracy`): the error on labeled frames of the *training*
  range that were not trained on (neighbours of training frames in a video) against the test
  range's error: a large gap means the model does not carry over to other parts of the
  video, not that it failed to fit.
- `error_by_rotation`: the test frames turned whole by 0/90/180/270 degrees (labels turned
  with them): equal errors mean headings are not what the model lacks.
- `error_by_gap`: the error by how many frames away the nearest training frame is: an error
  that grows with the gap says the frames near the training frames are near-copies of them
  (a validation split drawn among them flatters the model) and the model has not learned the
  animals' poses beyond them.
- `error_by_label_shift`: predictions on frame i against the labels of frame i + d: the
  minimum at d = 0 shows frames and labels line up (a video decoded with an offset would put
  it elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import cv2
import numpy as np

from learning.engine.multi.metrics import node_errors, oks_map

Predict = Callable[[list[np.ndarray]], list[np.ndarray]]


def rotate_frame(image: np.ndarray, points: np.ndarray, degrees: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """`image` (H, W, C) turned by `degrees` (counter-clockwise as displayed) about its centre
    onto a canvas that holds all of it (uncovered pixels are zero; 90 and 270 degrees swap H
    and W), and `points` (..., 2) (x, y; NaN stays NaN) moved with it."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (round(w * cos + h * sin), round(w * sin + h * cos))
    matrix[:, 2] += (np.array(size, dtype=np.float64) - (w, h)) / 2
    turned = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)
    flat = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    moved = flat @ matrix[:, :2].T + matrix[:, 2]
    return turned, moved.reshape(np.shape(points)).astype(np.float32)


def accuracy(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> dict[str, float | None]:
    """OKS mAP and the median part error (px) after matching animals, rounded."""
    return {"map_oks": round(float(oks_map(preds, gts).map_oks), 4),
            "median_error_px": median_error(preds, gts)}


def median_error(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float | None:
    """Median part error (px, rounded) after matching animals; None without a matched part."""
    errors = [e for e in node_errors(preds, gts) if len(e)]
    return round(float(np.median(np.concatenate(errors))), 3) if errors else None


def error_by_rotation(predict: Predict, images: Sequence[np.ndarray],
                      gts: Sequence[np.ndarray], angles: Sequence[float] = (0, 90, 180, 270)
                      ) -> dict[str, dict[str, float | None]]:
    """`accuracy` of the frames and their labels turned by each angle (keys: the angles)."""
    out = {}
    for angle in angles:
        turned = [rotate_frame(image, gt, angle) for image, gt in zip(images, gts, strict=True)]
        out[f"{angle:g}"] = accuracy(predict([t[0] for t in turned]), [t[1] for t in turned])
    return out


def error_by_label_shift(preds: Mapping[int, np.ndarray], labels: Mapping[int, np.ndarray],
                         shifts: Sequence[int] = (-2, -1, 0, 1, 2)
                         ) -> dict[str, float | None]:
    """Median part error of the predictions of frame i (`preds`, by frame index) against the
    labels of frame i + d, for each shift d (keys: the shifts; None where no pair exists)."""
    out: dict[str, float | None] = {}
    for shift in shifts:
        pairs = [(pred, labels[i + shift]) for i, pred in preds.items() if i + shift in labels]
        out[f"{shift:d}"] = median_error([p for p, _ in pairs], [g for _, g in pairs])
    return out


GAP_EDGES = (1, 3, 10, 30, 100, 300)  # frames to the nearest training frame, bin starts


def error_by_gap(preds: Mapping[int, np.ndarray], labels: Mapping[int, np.ndarray],
                 trained: Sequence[int], edges: Sequence[int] = GAP_EDGES
                 ) -> dict[str, dict[str, float | int | None]]:
    """Median part error and frame count of the predictions (by frame index) grouped by the
    distance in frames to the nearest of `trained` (keys "a-b", the last "a+"; empty bins
    left out)."""
    if not trained:
        raise ValueError("no training frames")
    anchors = np.sort(np.asarray(trained))
    gaps = {i: _gap(anchors, i) for i in preds if i in labels}
    out: dict[str, dict[str, float | int | None]] = {}
    for j, start in enumerate(edges):
        stop = edges[j + 1] if j + 1 < len(edges) else None
        chosen = [i for i, gap in gaps.items() if start <= gap and (stop is None or gap < stop)]
        if chosen:
            key = f"{start}-{stop - 1}" if stop is not None else f"{start}+"
            out[key] = {"frames": len(chosen), "median_error_px": median_error(
                [preds[i] for i in chosen], [labels[i] for i in chosen])}
    return out


def _gap(anchors: np.ndarray, index: int) -> int:
    """Frames from `index` to the nearest of the sorted `anchors`."""
    at = int(np.searchsorted(anchors, index))
    near = anchors[max(at - 1, 0): at + 1]
    return int(np.abs(near - index).min())

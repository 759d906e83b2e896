"""Evaluating a trained model: pixel errors, PCK, per-body-part errors and comparison images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from learning.engine.config import ModelConfig
from learning.engine.data import PoseSample, load_image
from learning.engine.metrics import evaluate
from learning.engine.network import PoseNet
from learning.engine.predict import predict_samples
from learning.models import VersionMetrics

PCUTOFF = 0.6
PCK_THRESHOLDS = (2.0, 5.0, 10.0)
N_IMAGES = 4
TRAIN_EVAL_MAX = 64  # train samples the train error is measured on (a spread sample)
LABEL_COLOR = (40, 200, 40)  # RGB: labeled points, hollow circles
PRED_COLOR = (230, 40, 40)  # RGB: predictions, crosses


def finite_or_none(value: Any) -> float | None:
    """JSON has no NaN: undefined numbers are stored as None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _scores(model: PoseNet, cfg: ModelConfig, samples: Sequence[PoseSample]
            ) -> tuple[dict[str, Any] | None, np.ndarray | None]:
    if not samples:
        return None, None
    pred, gt = predict_samples(model, cfg, samples)
    return evaluate(pred, gt, pcutoff=PCUTOFF, pck_thresholds=PCK_THRESHOLDS), pred


def rmse_on(model: PoseNet, cfg: ModelConfig, samples: Sequence[PoseSample]) -> float | None:
    """Mean pixel error of a model on samples (None without labeled points)."""
    scores, _ = _scores(model, cfg, samples)
    return finite_or_none(scores["rmse_px"]) if scores else None


def spread_sample(samples: Sequence[PoseSample], n: int) -> list[PoseSample]:
    """At most n of `samples`, evenly spread (all of them when there are not more)."""
    if len(samples) <= n:
        return list(samples)
    picks = np.unique(np.linspace(0, len(samples) - 1, n).round().astype(np.int64))
    return [samples[i] for i in picks]


def evaluate_model(model: PoseNet, cfg: ModelConfig, train: Sequence[PoseSample],
                   test: Sequence[PoseSample], keypoint_names: Sequence[str]
                   ) -> tuple[VersionMetrics, np.ndarray | None]:
    """Metrics on the train and test samples, and the test predictions (N, K, 3) or None.

    The train error is a diagnostic (is the model over-fitting?), measured on at most
    TRAIN_EVAL_MAX train samples spread over the set, so evaluating costs the same however
    many labels the project has; the test split is always evaluated whole."""
    train_sample = spread_sample(train, TRAIN_EVAL_MAX)
    train_scores, _ = _scores(model, cfg, train_sample)
    test_scores, test_pred = _scores(model, cfg, test)

    def per_part(scores: dict[str, Any] | None) -> dict[str, float | None]:
        values = scores["per_bodypart_rmse_px"] if scores else [None] * len(keypoint_names)
        return {name: finite_or_none(v) for name, v in zip(keypoint_names, values, strict=True)}

    metrics: VersionMetrics = {
        "train_rmse_px": finite_or_none(train_scores["rmse_px"]) if train_scores else None,
        "test_rmse_px": finite_or_none(test_scores["rmse_px"]) if test_scores else None,
        "train_rmse_pcutoff_px":
            finite_or_none(train_scores["rmse_pcutoff_px"]) if train_scores else None,
        "test_rmse_pcutoff_px":
            finite_or_none(test_scores["rmse_pcutoff_px"]) if test_scores else None,
        "test_pck": {f"{t:g}": finite_or_none(test_scores["pck"][t]) if test_scores else None
                     for t in PCK_THRESHOLDS},
        "per_bodypart_test_rmse_px": per_part(test_scores),
        "per_bodypart_train_rmse_px": per_part(train_scores),
        "n_train": len(train),
        "n_train_evaluated": len(train_sample),
        "n_test": len(test),
        "n_labeled_points": int(sum(s.present.sum() for s in [*train, *test])),
        "pcutoff": PCUTOFF,
    }
    return metrics, test_pred


def per_frame_results(test: Sequence[PoseSample], pred: np.ndarray | None,
                      frame_ids: Sequence[int], n_images: int = N_IMAGES
                      ) -> tuple[list[dict[str, Any]], list[int]]:
    """Per test frame: its error and likelihoods; and the indices of the worst `n_images`.

    Returns (rows, worst) where rows[i] = {"frame_id", "rmse_px", "likelihoods", "image"} and
    "image" is the position of the frame's comparison image among the worst (or None).
    """
    if pred is None or not test:
        return [], []
    errors = []
    for i, sample in enumerate(test):
        dist = np.linalg.norm(pred[i, :, :2] - sample.keypoints, axis=-1)
        mask = sample.present & np.isfinite(dist)
        errors.append(float(dist[mask].mean()) if mask.any() else float("nan"))
    order = sorted(range(len(test)), key=lambda i: -errors[i] if math.isfinite(errors[i]) else 1)
    worst = order[:n_images]
    rows = [{"frame_id": int(frame_ids[i]), "rmse_px": finite_or_none(errors[i]),
             "likelihoods": [finite_or_none(v) for v in pred[i, :, 2]],
             "image": worst.index(i) if i in worst else None} for i in range(len(test))]
    return rows, worst


def comparison_png(sample: PoseSample, pred: np.ndarray, keypoint_names: Sequence[str]) -> bytes:
    """PNG of the image with labeled points (green circles) and predictions (red crosses).

    pred: (K, 3) x, y, likelihood in original pixels. Small images are enlarged for viewing.
    """
    image = load_image(sample.image_path)
    zoom = max(1, math.ceil(320 / max(image.shape[:2])))
    if zoom > 1:
        image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
    image = np.ascontiguousarray(image)

    def at(xy: np.ndarray) -> tuple[int, int]:
        return (round((xy[0] + 0.5) * zoom - 0.5), round((xy[1] + 0.5) * zoom - 0.5))

    for k, _name in enumerate(keypoint_names):
        gt = sample.keypoints[k]
        has_gt = bool(sample.present[k])
        has_pred = bool(np.isfinite(pred[k, :2]).all())
        if has_gt and has_pred:
            cv2.line(image, at(gt), at(pred[k]), (255, 255, 0), 1, cv2.LINE_AA)
        if has_gt:
            cv2.circle(image, at(gt), 5, LABEL_COLOR, 2, cv2.LINE_AA)
        if has_pred:
            cv2.drawMarker(image, at(pred[k]), PRED_COLOR, cv2.MARKER_CROSS, 10, 2, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("cannot encode the evaluation image")
    return png.tobytes()


def evaluation_pngs(samples: Sequence[PoseSample], pred: np.ndarray | None,
                    keypoint_names: Sequence[str], n: int = N_IMAGES) -> list[bytes]:
    """Comparison images of the first `n` samples (callers pass the worst test frames)."""
    if pred is None:
        return []
    return [comparison_png(s, pred[i], keypoint_names) for i, s in enumerate(samples[:n])]

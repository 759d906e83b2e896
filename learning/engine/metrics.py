"""Accuracy metrics in pixels, NaN-safe (DeepLabCut's "RMSE" is a mean Euclidean distance)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def evaluate(
    pred: np.ndarray,
    gt: np.ndarray,
    pcutoff: float = 0.6,
    pck_thresholds: Sequence[float] = (2.0, 5.0, 10.0),
) -> dict[str, Any]:
    """Compare predictions (N, K, 3) = x, y, likelihood with ground truth (N, K, 2), NaN unlabeled.

    Returns rmse_px (mean Euclidean distance over labeled points, as DeepLabCut reports "RMSE"),
    rmse_pcutoff_px (the same over labeled points with likelihood >= pcutoff), pck {threshold:
    fraction of labeled points within threshold px}, per_bodypart_rmse_px (K,), n_points,
    n_points_pcutoff. Means over no points are NaN.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape[:-1] != gt.shape[:-1] or pred.shape[-1] != 3 or gt.shape[-1] != 2:
        raise ValueError(f"shape mismatch: pred {pred.shape}, gt {gt.shape}")
    dist = np.linalg.norm(pred[..., :2] - gt, axis=-1)  # (N, K), NaN where either is NaN
    labeled = np.isfinite(gt).all(axis=-1)
    valid = labeled & np.isfinite(dist)
    confident = valid & (pred[..., 2] >= pcutoff)
    # Missing predictions on labeled points count as misses for PCK.
    pck = {
        float(t): float(np.sum(valid & (np.where(valid, dist, np.inf) <= t)) / labeled.sum())
        if labeled.any() else float("nan")
        for t in pck_thresholds
    }
    per_part = [
        float(dist[valid[:, k], k].mean()) if valid[:, k].any() else float("nan")
        for k in range(gt.shape[1])
    ]
    return {
        "rmse_px": float(dist[valid].mean()) if valid.any() else float("nan"),
        "rmse_pcutoff_px": float(dist[confident].mean()) if confident.any() else float("nan"),
        "pck": pck,
        "per_bodypart_rmse_px": per_part,
        "n_points": int(valid.sum()),
        "n_points_pcutoff": int(confident.sum()),
    }

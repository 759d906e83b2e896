"""Matching predicted animals to labeled ones, and the errors of the matched pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

UNMATCHABLE = 1e9


def instance_distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """float64 (n, m): mean distance over the parts present in both, pred (n, K, 2|3) against
    gt (m, K, 2|3); UNMATCHABLE where no part is present in both."""
    d = np.linalg.norm(pred[:, None, :, :2] - gt[None, :, :, :2], axis=-1)  # (n, m, K)
    both = np.isfinite(d)
    total = np.where(both, d, 0.0).sum(axis=-1)
    count = both.sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), UNMATCHABLE)


def match_instances(pred: np.ndarray, gt: np.ndarray, max_distance: float = np.inf
                    ) -> list[tuple[int, int]]:
    """(pred index, gt index) pairs minimising the summed `instance_distances` (Hungarian);
    pairs farther apart than `max_distance` (or with no shared part) are left unmatched."""
    if len(pred) == 0 or len(gt) == 0:
        return []
    cost = instance_distances(pred, gt)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)
            if cost[r, c] < min(max_distance, UNMATCHABLE)]


def matched_errors(
    preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], max_distance: float = np.inf
) -> dict[str, Any]:
    """Per-frame matching of predicted (n_i, K, 3) to labeled (m_i, K, 2) animals.

    Returns median_error_px and mean_error_px over the parts present in both of matched pairs
    (NaN without any), n_gt, n_pred, n_matched (animals), recall = n_matched / n_gt, and
    part_recall: the share of the matched animals' labeled parts that were predicted.
    """
    errors: list[np.ndarray] = []
    n_gt = n_pred = n_matched = labeled = 0
    for pred, gt in zip(preds, gts, strict=True):
        gt = gt[np.isfinite(gt[..., :2]).all(axis=-1).any(axis=-1)]
        n_gt, n_pred = n_gt + len(gt), n_pred + len(pred)
        for p, g in match_instances(pred, gt, max_distance):
            d = np.linalg.norm(pred[p, :, :2] - gt[g, :, :2], axis=-1)
            errors.append(d[np.isfinite(d)])
            labeled += int(np.isfinite(gt[g, :, :2]).all(axis=-1).sum())
            n_matched += 1
    flat = np.concatenate(errors) if errors else np.zeros(0)
    return {
        "median_error_px": float(np.median(flat)) if flat.size else float("nan"),
        "mean_error_px": float(flat.mean()) if flat.size else float("nan"),
        "n_gt": n_gt,
        "n_pred": n_pred,
        "n_matched": n_matched,
        "recall": n_matched / n_gt if n_gt else float("nan"),
        "part_recall": sum(len(e) for e in errors) / labeled if labeled else float("nan"),
    }

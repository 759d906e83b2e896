"""Multi-animal accuracy: OKS, instance matching, COCO-style OKS mAP, per-node error, IDSW.

Poses are float arrays (n, K, 2|3) per frame: x, y in pixels and an optional confidence; NaN
where a part is absent. OKS follows SLEAP's ``compute_oks``: the scale is the area of the
ground truth's bounding box (SLEAP's choice when no area is stored) and every node's
standard deviation defaults to 0.025, so a keypoint ``d`` px off scores
``exp(-d**2 / (2 * area * (2 * sigma)**2))``; parts missing from the ground truth are left out
and parts missing from the prediction score 0. The mAP follows pycocotools' evaluation:
predictions ranked by score, greedy matching per OKS threshold, 101-point interpolated AP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

DEFAULT_SIGMA = 0.025
OKS_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, 10)
RECALL_POINTS: np.ndarray = np.linspace(0.0, 1.0, 101)
_UNMATCHABLE = 1e12


@dataclass(frozen=True)
class OksMatch:
    """Matched (prediction, ground truth) index pairs and each pair's OKS (P,)."""

    pairs: list[tuple[int, int]]
    oks: np.ndarray


@dataclass(frozen=True)
class OksMap:
    """COCO-style OKS average precision.

    ap: (thresholds,) AP at each OKS threshold; recall: (thresholds,) the recall reached with
    every prediction; map_oks: the mean of ap (NaN when there is no ground truth instance).
    """

    map_oks: float
    ap: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    n_gt: int
    n_pred: int


@dataclass(frozen=True)
class IdentitySwitches:
    """MOT's IDSW: times a ground-truth animal's matched track changed from its last one.

    events: (frame, gt index, previous track, new track) per switch.
    """

    count: int
    n_frames: int
    events: list[tuple[int, int, int, int]]

    @property
    def per_1000_frames(self) -> float:
        return 1000.0 * self.count / self.n_frames if self.n_frames else float("nan")


def _instances(array: np.ndarray | Sequence[np.ndarray], name: str) -> np.ndarray:
    """(n, K, C>=2) float64; an empty input becomes (0, 0, 2)."""
    out = np.asarray(array, dtype=np.float64)
    if out.size == 0 and out.ndim != 3:
        return np.zeros((0, 0, 2))
    if out.ndim != 3 or out.shape[-1] < 2:
        raise ValueError(f"{name} must be shaped (instances, K, 2|3), got {out.shape}")
    return out


def bbox_area(points: np.ndarray) -> np.ndarray:
    """Area of the bounding box of each instance's present points: (n, K, 2) -> (n,), 0 if none."""
    points = np.asarray(points, dtype=np.float64)[..., :2]
    present = np.isfinite(points).all(axis=-1)
    lo = np.where(present[..., None], points, np.inf).min(axis=-2)
    hi = np.where(present[..., None], points, -np.inf).max(axis=-2)
    area = np.prod(hi - lo, axis=-1)
    return np.where(present.any(axis=-1), area, 0.0)


def _sigmas(sigmas: float | Sequence[float] | np.ndarray | None, k: int) -> np.ndarray:
    if sigmas is None:
        return np.full(k, DEFAULT_SIGMA)
    out = np.broadcast_to(np.asarray(sigmas, dtype=np.float64), (k,)).copy()
    if (out <= 0).any():
        raise ValueError("OKS sigmas must be positive")
    return out


def oks_matrix(
    preds: np.ndarray,
    gts: np.ndarray,
    sigmas: float | Sequence[float] | np.ndarray | None = None,
    areas: float | Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """OKS of every prediction (n, K, 2|3) against every ground truth (m, K, 2): (n, m).

    areas: one per ground truth (or one for all); default each ground truth's bounding-box
    area. A ground truth with no present part has OKS 0 with everything.
    """
    preds = _instances(preds, "preds")
    gts = _instances(gts, "gts")
    n, m = len(preds), len(gts)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    if preds.shape[1] != gts.shape[1]:
        raise ValueError(f"keypoint counts differ: preds {preds.shape}, gts {gts.shape}")
    k = gts.shape[1]
    gt_xy = gts[..., :2]
    scale = bbox_area(gt_xy) if areas is None else np.broadcast_to(
        np.asarray(areas, dtype=np.float64), (m,)
    )
    spread = (2.0 * _sigmas(sigmas, k)) ** 2  # (K,)
    norm = 2.0 * (scale[None, :, None] + np.spacing(1)) * spread[None, None, :]  # (1, m, K)
    sq = ((preds[:, None, :, :2] - gt_xy[None, :, :, :]) ** 2).sum(axis=-1)  # (n, m, K)
    ks = np.exp(-np.where(np.isfinite(sq), sq, np.inf) / norm)
    present = np.isfinite(gt_xy).all(axis=-1)  # (m, K)
    ks = np.where(present[None], ks, 0.0)
    count = present.sum(axis=-1)  # (m,)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = ks.sum(axis=-1) / count[None, :]
    return np.where(count[None, :] > 0, out, 0.0)


def oks(
    pred: np.ndarray,
    gt: np.ndarray,
    sigmas: float | Sequence[float] | np.ndarray | None = None,
    area: float | None = None,
) -> float:
    """Object keypoint similarity of one prediction (K, 2|3) with one ground truth (K, 2)."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or gt.ndim != 2:
        raise ValueError(f"oks takes single poses (K, 2), got {pred.shape} and {gt.shape}")
    return float(oks_matrix(pred[None], gt[None], sigmas, None if area is None else [area])[0, 0])


def match_instances_oks(
    preds: np.ndarray,
    gts: np.ndarray,
    *,
    sigmas: float | Sequence[float] | np.ndarray | None = None,
    min_oks: float = 0.0,
) -> OksMatch:
    """Pair predictions (n, K, 2|3) with ground truths (m, K, 2): Hungarian on 1 - OKS.

    Pairs whose OKS is not above `min_oks` are left out (by default, pairs with nothing in
    common). Pairs are sorted by prediction index.
    """
    similarity = oks_matrix(preds, gts, sigmas)
    if similarity.size == 0:
        return OksMatch([], np.zeros(0))
    rows, cols = linear_sum_assignment(1.0 - similarity)
    keep = similarity[rows, cols] > min_oks
    pairs = [(int(r), int(c)) for r, c in zip(rows[keep], cols[keep], strict=True)]
    return OksMatch(pairs, similarity[rows[keep], cols[keep]])


def instance_scores(preds: np.ndarray) -> np.ndarray:
    """Each prediction's score: the mean confidence of its present parts (1 without a column)."""
    preds = _instances(preds, "preds")
    if preds.shape[-1] < 3:
        return np.ones(len(preds))
    used = np.isfinite(preds[..., :2]).all(axis=-1) & np.isfinite(preds[..., 2])
    count = used.sum(axis=-1)
    total = np.where(used, preds[..., 2], 0.0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> tuple[float, float]:
    """pycocotools' 101-point interpolated AP and the final recall of ranked detections."""
    order = np.argsort(-scores, kind="mergesort")
    hits = tp[order]
    tp_sum = np.cumsum(hits)
    fp_sum = np.cumsum(~hits)
    recall = tp_sum / n_gt
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the precision envelope
    index = np.searchsorted(recall, RECALL_POINTS, side="left")
    valid = index < len(precision)
    sampled = np.zeros(len(RECALL_POINTS))
    sampled[valid] = precision[index[valid]]
    return float(sampled.mean()), float(recall[-1]) if len(recall) else 0.0


def oks_map(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    *,
    sigmas: float | Sequence[float] | np.ndarray | None = None,
    scores: Sequence[np.ndarray] | None = None,
    thresholds: Sequence[float] | np.ndarray = OKS_THRESHOLDS,
) -> OksMap:
    """COCO-style mean average precision over OKS thresholds (default 0.50:0.05:0.95).

    preds: per frame (n_i, K, 2|3); gts: per frame (m_i, K, 2). A prediction's score is the
    mean confidence of its parts unless `scores` (per frame (n_i,)) are given. At each
    threshold, each frame's predictions in descending score take the unmatched ground truth
    with the highest OKS at or above it (true positive) or are false positives; AP samples the
    interpolated precision at 101 recall points. Ground truths with no part are ignored.
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predicted frames but {len(gts)} ground-truth frames")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    all_scores: list[np.ndarray] = []
    all_tp: list[np.ndarray] = []  # per frame (thresholds, n_i)
    n_gt = 0
    for i, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
        pred = _instances(pred, "preds")
        gt = _instances(gt, "gts")
        if len(gt):
            gt = gt[np.isfinite(gt[..., :2]).all(axis=-1).any(axis=-1)]
        n_gt += len(gt)
        score = instance_scores(pred) if scores is None else np.asarray(scores[i], np.float64)
        if len(score) != len(pred):
            raise ValueError(f"frame {i}: {len(score)} scores for {len(pred)} predictions")
        order = np.argsort(-score, kind="mergesort")
        similarity = oks_matrix(pred[order], gt, sigmas)
        tp = np.zeros((len(thresholds), len(pred)), dtype=bool)
        for t, threshold in enumerate(thresholds):
            taken = np.zeros(len(gt), dtype=bool)
            for d in range(len(pred)):
                candidates = np.where(taken, -1.0, similarity[d])
                best = int(np.argmax(candidates)) if len(gt) else -1
                if best >= 0 and candidates[best] >= threshold:
                    taken[best] = True
                    tp[t, d] = True
        all_scores.append(score[order])
        all_tp.append(tp)
    flat_scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    flat_tp = np.concatenate(all_tp, axis=1) if all_tp else np.zeros((len(thresholds), 0), bool)
    if n_gt == 0:
        nan = np.full(len(thresholds), np.nan)
        return OksMap(float("nan"), nan, nan, thresholds, 0, len(flat_scores))
    ap = np.zeros(len(thresholds))
    recall = np.zeros(len(thresholds))
    for t in range(len(thresholds)):
        ap[t], recall[t] = _average_precision(flat_scores, flat_tp[t], n_gt)
    return OksMap(float(ap.mean()), ap, recall, thresholds, n_gt, len(flat_scores))


def node_errors(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    *,
    sigmas: float | Sequence[float] | np.ndarray | None = None,
    min_oks: float = 0.0,
) -> list[np.ndarray]:
    """Pixel error of each node after matching instances per frame (`match_instances_oks`).

    Returns K arrays, node k's Euclidean errors over every matched pair where both the
    prediction and the ground truth have the node.
    """
    per_pair: list[np.ndarray] = []
    k = 0
    for pred, gt in zip(preds, gts, strict=True):
        pred = _instances(pred, "preds")
        gt = _instances(gt, "gts")
        k = max(k, gt.shape[1], pred.shape[1])
        for p, g in match_instances_oks(pred, gt, sigmas=sigmas, min_oks=min_oks).pairs:
            per_pair.append(np.linalg.norm(pred[p, :, :2] - gt[g, :, :2], axis=-1))
    if not per_pair:
        return [np.zeros(0) for _ in range(k)]
    errors = np.stack(per_pair)
    return [column[np.isfinite(column)] for column in errors.T]


def mean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean keypoint distance of every (n, K, 2|3) against every (m, K, 2|3): (n, m).

    Only parts present in both count; pairs sharing no part are infinitely far apart.
    """
    dist = np.linalg.norm(a[:, None, :, :2] - b[None, :, :, :2], axis=-1)  # (n, m, K)
    shared = np.isfinite(dist)
    count = shared.sum(axis=-1)
    total = np.where(shared, dist, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.inf)


def identity_switches(
    pred_tracks: np.ndarray, gt_tracks: np.ndarray, *, max_dist: float | None = None
) -> IdentitySwitches:
    """Count identity switches of tracked predictions (F, T, K, 2|3) against truth (F, G, K, 2).

    Each frame, ground-truth animals are matched to predicted tracks by the Hungarian
    algorithm on mean keypoint distance, gated at `max_dist` px (default: half the diagonal
    of the ground truth's bounding box). A switch is counted when a ground truth's matched
    track differs from the track it was last matched to (frames without a match in between
    do not reset it), as CLEAR MOT's IDSW.
    """
    pred = np.asarray(pred_tracks, dtype=np.float64)
    gt = np.asarray(gt_tracks, dtype=np.float64)
    if pred.ndim != 4 or gt.ndim != 4 or len(pred) != len(gt):
        raise ValueError(f"tracks must be (F, T, K, 2) with equal F: {pred.shape}, {gt.shape}")
    last = np.full(gt.shape[1], -1)
    events: list[tuple[int, int, int, int]] = []
    for f in range(len(gt)):
        cost = mean_distance_matrix(gt[f], pred[f])  # (G, T)
        if cost.size == 0:
            continue
        if max_dist is None:
            present = np.isfinite(gt[f, :, :, :2]).all(axis=-1)
            lo = np.where(present[..., None], gt[f, :, :, :2], np.inf).min(axis=1)
            hi = np.where(present[..., None], gt[f, :, :, :2], -np.inf).max(axis=1)
            gate = np.where(present.any(axis=-1), 0.5 * np.linalg.norm(hi - lo, axis=-1), 0.0)
        else:
            gate = np.full(gt.shape[1], float(max_dist))
        feasible = cost <= gate[:, None]
        rows, cols = linear_sum_assignment(np.where(feasible, cost, _UNMATCHABLE))
        for g, t in zip(rows, cols, strict=True):
            if not feasible[g, t]:
                continue
            if last[g] >= 0 and last[g] != t:
                events.append((f, int(g), int(last[g]), int(t)))
            last[g] = t
    return IdentitySwitches(len(events), len(gt), events)

"""Acquisition scores: how much a frame's label would teach the model. Pure NumPy.

Every score is a plain function of model outputs and returns one float per frame, higher
meaning "label this first". Raw scores live on different scales (pixels, nats, ratios), so
`combine` puts each component on a comparable scale (ranks in [0, 1], or clipped robust z)
before the weighted sum.

Shapes: N frames, K keypoints. poses float (N, K, 3) = x, y in original pixels and likelihood
in [0, 1]; heatmaps: a sequence of N float arrays (K, h, w) of probabilities (sizes may differ
between frames); NaN marks a missing coordinate.

Default weights (`DEFAULT_WEIGHTS`), overridden per project by `Project.acquisition_weights`:
confidence 1, entropy 1, peaks 1, tta 1, disagreement 1, temporal 1, skeleton 0.5, coverage 1.
`coverage` (distance to the nearest labeled frame in embedding space: the model's blind
spots) is computed by `learning.engine.selection.coverage_distance`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

DEFAULT_WEIGHTS: dict[str, float] = {
    "confidence": 1.0,
    "entropy": 1.0,
    "peaks": 1.0,
    "tta": 1.0,
    "disagreement": 1.0,
    "temporal": 1.0,
    "skeleton": 0.5,
    "coverage": 1.0,
}
# What each score measures, in words for people choosing weights (the settings page).
SCORE_DESCRIPTIONS: dict[str, str] = {
    "confidence": "Low confidence: 1 - the mean peak likelihood of the body parts.",
    "entropy": "Spread-out heatmaps: how unsure the model is where each part is.",
    "peaks": "Second peaks: another place in the image looks almost as likely.",
    "tta": "Unstable under flips and zooms: the prediction moves when the image is flipped "
           "or zoomed (computed for the most uncertain frames only).",
    "disagreement": "Changed opinion: distance between the current and the previous "
                    "model's predictions.",
    "temporal": "Jumps in time: how far a part leaves its smooth track through the video.",
    "skeleton": "Implausible pose: limb lengths or joint angles unlike the labeled frames.",
    "coverage": "Unlike the labeled frames: distance to the nearest labeled frame (the "
                "model's blind spots).",
}
EPS = 1e-9
MAD_TO_STD = 1.4826


# --- single-model scores --------------------------------------------------------------------

def confidence(poses: np.ndarray) -> np.ndarray:
    """(N,) 1 - mean peak likelihood over keypoints: low confidence scores high."""
    likelihood = np.asarray(poses, dtype=np.float64)[..., 2]
    return 1.0 - np.nanmean(np.nan_to_num(likelihood, nan=0.0), axis=1)


def heatmap_entropy(heatmaps: Sequence[np.ndarray], floor: float = 0.01) -> np.ndarray:
    """(N,) mean over keypoints of the normalised Shannon entropy of each heatmap, in [0, 1].

    Each (h, w) map is turned into a distribution (values below `floor` of its peak are
    dropped, so the near-zero background of a sigmoid map does not dominate) and its entropy is
    divided by log(h * w). One sharp peak gives ~0, a spread or multi-modal map more.
    """
    out = np.zeros(len(heatmaps), dtype=np.float64)
    for i, maps in enumerate(heatmaps):
        flat = np.asarray(maps, dtype=np.float64).reshape(maps.shape[0], -1)
        peak = flat.max(axis=1, keepdims=True)
        p = np.where(flat >= floor * np.maximum(peak, EPS), flat, 0.0)
        p = p / np.maximum(p.sum(axis=1, keepdims=True), EPS)
        entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
        out[i] = float(np.mean(entropy / np.log(max(flat.shape[1], 2))))
    return out


def _local_maxima(maps: np.ndarray) -> np.ndarray:
    """(K, h, w) bool: cells >= their 8 neighbours (3 x 3 non-maximum suppression)."""
    k, h, w = maps.shape
    padded = np.full((k, h + 2, w + 2), -np.inf)
    padded[:, 1:-1, 1:-1] = maps
    neighbours = np.stack([
        padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        for dy, dx in itertools.product((-1, 0, 1), repeat=2) if (dy, dx) != (0, 0)
    ])
    return maps >= neighbours.max(axis=0)


def second_peak_ratio(heatmaps: Sequence[np.ndarray], min_separation: int = 2) -> np.ndarray:
    """(N,) mean over keypoints of (second local maximum / highest), in [0, 1].

    Local maxima within `min_separation` cells of the highest are ignored (the shoulders of
    one peak). Near 1: two equally likely places for the keypoint (e.g. left/right confusion).
    """
    out = np.zeros(len(heatmaps), dtype=np.float64)
    for i, maps in enumerate(heatmaps):
        maps = np.asarray(maps, dtype=np.float64)
        k, h, w = maps.shape
        peaks = _local_maxima(maps)
        flat = maps.reshape(k, -1)
        top = flat.argmax(axis=1)
        yy, xx = np.divmod(np.arange(h * w), w)
        far = (np.abs(yy[None] - (top // w)[:, None]) > min_separation) | (
            np.abs(xx[None] - (top % w)[:, None]) > min_separation)
        candidates = np.where(peaks.reshape(k, -1) & far, flat, 0.0)
        ratio = candidates.max(axis=1) / np.maximum(flat.max(axis=1), EPS)
        out[i] = float(ratio.mean())
    return out


# --- agreement between predictions ----------------------------------------------------------

def pose_scale(poses: np.ndarray, floor_px: float = 10.0) -> float:
    """A typical animal size in pixels: the median diagonal of the keypoints' bounding box."""
    xy = np.asarray(poses, dtype=np.float64)[..., :2]
    with np.errstate(all="ignore"):
        extent = np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1)  # (N, 2)
        diag = np.hypot(extent[:, 0], extent[:, 1])
    diag = diag[np.isfinite(diag)]
    return max(float(np.median(diag)) if diag.size else floor_px, floor_px)


def pose_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) mean Euclidean distance in pixels between two pose sets (N, K, >=2), NaN-safe."""
    dist = np.linalg.norm(np.asarray(a, np.float64)[..., :2] - np.asarray(b, np.float64)[..., :2],
                          axis=-1)
    with np.errstate(all="ignore"):
        out = np.nanmean(np.where(np.isfinite(dist), dist, np.nan), axis=1)
    return np.nan_to_num(out, nan=0.0)


def unflip_poses(poses: np.ndarray, widths: np.ndarray | float,
                 flip_pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Map predictions made on horizontally mirrored images back to the original images.

    poses (N, K, 3) predicted on the mirrored images; widths: image width(s) in pixels.
    x -> W - 1 - x (pixel centres at integers), then each (left, right) pair swaps rows.
    """
    out = np.array(poses, dtype=np.float64, copy=True)
    w = np.broadcast_to(np.asarray(widths, dtype=np.float64), (out.shape[0],))
    out[..., 0] = w[:, None] - 1.0 - out[..., 0]
    order = list(range(out.shape[1]))
    for left, right in flip_pairs:
        order[left], order[right] = right, left
    return out[:, order]


def tta_disagreement(poses: np.ndarray, augmented: Sequence[np.ndarray]) -> np.ndarray:
    """(N,) mean distance (pixels) between the plain prediction and each test-time augmented
    one, already mapped back to the original image (`unflip_poses`, `unscale_poses`)."""
    if not augmented:
        return np.zeros(len(poses))
    return np.mean([pose_distance(poses, other) for other in augmented], axis=0)


def unscale_poses(poses: np.ndarray, factor: float, widths: np.ndarray | float,
                  heights: np.ndarray | float) -> np.ndarray:
    """Undo a zoom by `factor` about the image centre (the small-affine TTA): (N, K, 3)."""
    out = np.array(poses, dtype=np.float64, copy=True)
    cx = (np.broadcast_to(np.asarray(widths, np.float64), (out.shape[0],)) - 1) / 2
    cy = (np.broadcast_to(np.asarray(heights, np.float64), (out.shape[0],)) - 1) / 2
    out[..., 0] = (out[..., 0] - cx[:, None]) / factor + cx[:, None]
    out[..., 1] = (out[..., 1] - cy[:, None]) / factor + cy[:, None]
    return out


def model_disagreement(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """(N,) mean pixel distance between two models' predictions (current vs previous version)."""
    return pose_distance(current, previous)


def ensemble_variance(members: Sequence[np.ndarray]) -> np.ndarray:
    """(N,) mean over keypoints of the RMS spread (pixels) of M >= 2 models' predictions.

    members: M arrays (N, K, >=2). Spread = sqrt(var_x + var_y) across members.
    """
    xy = np.stack([np.asarray(m, np.float64)[..., :2] for m in members])  # (M, N, K, 2)
    if xy.shape[0] < 2:
        return np.zeros(xy.shape[1])
    with np.errstate(all="ignore"):
        spread = np.sqrt(np.nanvar(xy, axis=0).sum(axis=-1))
        out = np.nanmean(spread, axis=1)
    return np.nan_to_num(out, nan=0.0)


# --- temporal consistency -------------------------------------------------------------------

def temporal_inconsistency(tracks: np.ndarray) -> np.ndarray:
    """(T,) per frame, the largest deviation (pixels) of a keypoint from a smooth track.

    tracks (T, K, >=2): consecutive predictions of one video (same sampling step). The
    deviation of frame t is |p_t - (p_{t-1} + p_{t+1}) / 2| (a jump away and back), and at
    the ends |p_t - p_{t±1}|. Missing coordinates count as no deviation.
    """
    xy = np.asarray(tracks, dtype=np.float64)[..., :2]
    t = xy.shape[0]
    if t < 2:
        return np.zeros(t)
    expected = np.empty_like(xy)
    expected[1:-1] = (xy[:-2] + xy[2:]) / 2
    expected[0], expected[-1] = xy[1], xy[-2]
    dev = np.linalg.norm(xy - expected, axis=-1)
    return np.nan_to_num(dev, nan=0.0).max(axis=1)


# --- skeleton plausibility ------------------------------------------------------------------

@dataclass(frozen=True)
class SkeletonStats:
    """Robust statistics of limb lengths and joint angles over labeled frames.

    edges: (E, 2) keypoint indices; log_len_median/log_len_scale (E,): per edge, median and
    MAD-scale of log(length / the frame's median edge length) (so animal size cancels out).
    angle_pairs: (A, 2) edge indices sharing a keypoint; angle_median/angle_scale (A,): circular
    median and robust spread of the angle between them (radians).
    """

    edges: np.ndarray
    log_len_median: np.ndarray
    log_len_scale: np.ndarray
    angle_pairs: np.ndarray
    angle_median: np.ndarray
    angle_scale: np.ndarray


def default_edges(num_keypoints: int) -> list[tuple[int, int]]:
    """Every pair of keypoints: the 'skeleton' of a project that declared none."""
    return list(itertools.combinations(range(num_keypoints), 2))


def _edge_vectors(xy: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return xy[:, edges[:, 1]] - xy[:, edges[:, 0]]  # (N, E, 2)


def _relative_log_lengths(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1)
    with np.errstate(all="ignore"):
        ref = np.nanmedian(np.where(length > 0, length, np.nan), axis=1, keepdims=True)
        return np.log(np.where(length > 0, length, np.nan) / ref)


def _angle_pairs(edges: np.ndarray) -> np.ndarray:
    pairs = [(a, b) for a, b in itertools.combinations(range(len(edges)), 2)
             if set(edges[a].tolist()) & set(edges[b].tolist())]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _angles(vectors: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    heading = np.arctan2(vectors[..., 1], vectors[..., 0])  # (N, E)
    return _wrap(heading[:, pairs[:, 1]] - heading[:, pairs[:, 0]])


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def fit_skeleton_stats(keypoints: np.ndarray, edges: Sequence[tuple[int, int]],
                       min_scale: float = 0.05) -> SkeletonStats:
    """Statistics of labeled keypoints (N, K, 2) (NaN = not labeled) for `skeleton_implausibility`.

    `min_scale` floors the spreads (log-length and radians) so that a few near-identical labels
    do not make every small deviation look implausible.
    """
    edge_arr = np.asarray(list(edges), dtype=np.int64).reshape(-1, 2)
    xy = np.asarray(keypoints, dtype=np.float64)[..., :2]
    vectors = _edge_vectors(xy, edge_arr)
    logs = _relative_log_lengths(vectors)
    with np.errstate(all="ignore"):
        med = np.nan_to_num(np.nanmedian(logs, axis=0), nan=0.0)
        mad = np.nan_to_num(np.nanmedian(np.abs(logs - med), axis=0), nan=1.0) * MAD_TO_STD
    pairs = _angle_pairs(edge_arr)
    angles = _angles(vectors, pairs)
    with np.errstate(all="ignore"):
        # Circular median approximated by the circular mean direction, robust spread by MAD.
        centre = np.arctan2(np.nanmean(np.sin(angles), axis=0), np.nanmean(np.cos(angles), axis=0))
        centre = np.nan_to_num(centre, nan=0.0)
        spread = np.nanmedian(np.abs(_wrap(angles - centre)), axis=0) * MAD_TO_STD
    spread = np.nan_to_num(spread, nan=np.pi)
    return SkeletonStats(edge_arr, med, np.maximum(mad, min_scale), pairs, centre,
                         np.maximum(spread, min_scale))


def skeleton_implausibility(poses: np.ndarray, stats: SkeletonStats) -> np.ndarray:
    """(N,) largest robust z-score of a limb length or joint angle against labeled frames.

    poses (N, K, >=2). Limbs that are missing are ignored; 0 when nothing can be measured.
    A value above ~4 means a limb far outside anything labeled (a swapped or misplaced point).
    """
    xy = np.asarray(poses, dtype=np.float64)[..., :2]
    if stats.edges.size == 0:
        return np.zeros(xy.shape[0])
    vectors = _edge_vectors(xy, stats.edges)
    z_len = np.abs(_relative_log_lengths(vectors) - stats.log_len_median) / stats.log_len_scale
    parts = [z_len]
    if stats.angle_pairs.size:
        z_ang = np.abs(_wrap(_angles(vectors, stats.angle_pairs) - stats.angle_median))
        parts.append(z_ang / stats.angle_scale)
    z = np.concatenate(parts, axis=1)
    z = np.where(np.isfinite(z), z, 0.0)
    return z.max(axis=1) if z.shape[1] else np.zeros(xy.shape[0])


def label_outliers(keypoints: np.ndarray, edges: Sequence[tuple[int, int]],
                   threshold: float = 6.0) -> np.ndarray:
    """Row numbers of labeled frames (N, K, 2) whose skeleton is implausible: likely label errors.

    The statistics are robust (median/MAD), so a few wrong labels do not hide themselves.
    """
    stats = fit_skeleton_stats(keypoints, edges)
    return np.flatnonzero(skeleton_implausibility(keypoints, stats) > threshold)


# --- normalising and combining --------------------------------------------------------------

def rank_normalize(values: np.ndarray) -> np.ndarray:
    """(N,) average ranks of the finite values scaled to [0, 1] (ties share a rank).

    NaN (a score not computed for that frame) maps to the neutral 0.5; all-equal input too.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.size, 0.5)
    finite = np.isfinite(values)
    x = values[finite]
    if x.size < 2 or np.all(x == x[0]):
        return out
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(x.size)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    out[finite] = (sums / counts)[inverse] / (x.size - 1)
    return out


def robust_z(values: np.ndarray, clip: float = 5.0) -> np.ndarray:
    """(N,) (x - median) / (1.4826 MAD) clipped to [-clip, clip], mapped to [0, 1]; NaN -> 0.5."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.size, 0.5)
    finite = np.isfinite(values)
    x = values[finite]
    if x.size == 0:
        return out
    med = np.median(x)
    scale = np.median(np.abs(x - med)) * MAD_TO_STD
    if scale <= EPS:
        scale = max(float(np.std(x)), EPS)
    z = np.clip((x - med) / scale, -clip, clip)
    out[finite] = (z + clip) / (2 * clip)
    return out


Normalization = Literal["rank", "robust_z"]


def normalize_components(components: Mapping[str, np.ndarray],
                         method: Normalization = "rank") -> dict[str, np.ndarray]:
    """Each raw component (N,) put on [0, 1] by ranks or clipped robust z."""
    norm = rank_normalize if method == "rank" else robust_z
    return {name: norm(values) for name, values in components.items()}


def resolve_weights(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """DEFAULT_WEIGHTS updated by a project's acquisition_weights (unknown names are errors)."""
    weights = dict(DEFAULT_WEIGHTS)
    for name, value in (overrides or {}).items():
        if name not in weights:
            raise ValueError(f"unknown acquisition weight {name!r}; known: {sorted(weights)}")
        weights[name] = float(value)
    return weights


def combine(components: Mapping[str, np.ndarray], weights: Mapping[str, float],
            method: Normalization = "rank") -> np.ndarray:
    """(N,) weighted mean of the normalised components that are present, in [0, 1].

    Components without a weight (or weight 0) are ignored; with none left, all zeros.
    """
    normed = normalize_components(components, method)
    total = np.zeros(len(next(iter(components.values()))) if components else 0)
    weight_sum = 0.0
    for name, values in normed.items():
        w = float(weights.get(name, 0.0))
        if w > 0:
            total = total + w * values
            weight_sum += w
    return total / weight_sum if weight_sum > 0 else total

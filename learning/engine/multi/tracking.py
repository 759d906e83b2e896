"""Link each frame's animal instances into tracks, as SLEAP's trackers do.

Frame by frame, every live track predicts where its animal is now with a constant-velocity
model (a least-squares line through each part's positions over the track's last `window`
observations), and the frame's instances are assigned to the tracks by the Hungarian
algorithm on a cost (mean keypoint distance to the predicted pose, or 1 - OKS). Assignment
works on an augmented matrix where leaving an instance or a track unmatched costs half of
`max_cost`, so no pair costlier than `max_cost` is ever made. An unmatched instance starts a
new track while fewer than `max_tracks` exist; once they are all taken it takes over the track
lost longest ago (beyond `max_lost` frames: with a fixed number of animals an animal coming
back is the one that left), or is dropped.

A track's confidence in a frame is the instance score times the assignment margin
``delta / (delta + cost)``: ``delta`` is how much costlier the best assignment without this
pair would have been, so an unambiguous pair scores near 1 and a pair that could as well
have gone to another animal (a crossing) scores near 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from learning.engine.multi.metrics import instance_scores, mean_distance_matrix, oks_matrix

_FORBIDDEN = 1e12  # an assignment cost that no real solution contains
_UNGATED = 1e9  # leaving an instance or a track unmatched, when nothing gates the cost


@dataclass(frozen=True)
class TrackerConfig:
    """How instances are linked into tracks.

    max_tracks: most tracks at once (the project's animal count); None: no limit.
    cost: "distance" (mean pixel distance of the motion-predicted pose to the instance over
    the parts both have) or "oks" (1 - OKS against the predicted pose, scaled by its bounding
    box; `oks_sigma` is wider than evaluation's 0.025 because predictions are pixels off).
    window: observations the constant-velocity fit uses; 1 predicts the last position.
    max_cost: no instance is assigned to a track costlier than this (pixels for "distance",
    0-1 for "oks"); None: no gate.
    max_lost: frames a track may go unseen and still be matched by motion.
    """

    max_tracks: int | None = None
    cost: Literal["distance", "oks"] = "distance"
    window: int = 5
    max_cost: float | None = None
    max_lost: int = 10
    oks_sigma: float = 0.1

    def __post_init__(self) -> None:
        if self.max_tracks is not None and self.max_tracks < 1:
            raise ValueError(f"max_tracks must be at least 1, got {self.max_tracks}")
        if self.cost not in ("distance", "oks"):
            raise ValueError(f"cost must be 'distance' or 'oks', got {self.cost!r}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if self.max_cost is not None and self.max_cost <= 0:
            raise ValueError(f"max_cost must be positive, got {self.max_cost}")
        if self.max_lost < 0:
            raise ValueError(f"max_lost must be non-negative, got {self.max_lost}")
        if self.oks_sigma <= 0:
            raise ValueError(f"oks_sigma must be positive, got {self.oks_sigma}")


@dataclass(frozen=True)
class TrackResult:
    """Tracked poses.

    poses: (F, T, K, 3) float64 x, y, confidence; NaN where track t has no instance in frame f.
    confidence: (F, T) in [0, 1], NaN where the track has no instance.
    track_names: T names, "track_0"...
    instance_tracks: per frame (n_i,) int, the track each input instance went to (-1: dropped).
    """

    poses: np.ndarray
    confidence: np.ndarray
    track_names: list[str]
    instance_tracks: list[np.ndarray]


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)  # (K, 2) each

    def add(self, frame: int, xy: np.ndarray, window: int) -> None:
        self.frames = [*self.frames[-(window - 1) :], frame] if window > 1 else [frame]
        self.points = [*self.points[-(window - 1) :], xy] if window > 1 else [xy]

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def predict(self, frame: int) -> np.ndarray:
        """(K, 2) each part's least-squares line over the window, evaluated at `frame`."""
        t = np.asarray(self.frames, dtype=np.float64)[:, None, None] - frame  # (W, 1, 1)
        xy = np.stack(self.points)  # (W, K, 2)
        w = np.isfinite(xy).astype(np.float64)
        x = np.where(w > 0, xy, 0.0)
        s0, st, stt = w.sum(0), (w * t).sum(0), (w * t * t).sum(0)
        sx, stx = (w * x).sum(0), (w * t * x).sum(0)
        det = s0 * stt - st * st
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(det > 1e-9, (s0 * stx - st * sx) / np.where(det > 1e-9, det, 1), 0)
            # The line's value at t = 0 (the frame predicted); a lone point is held still.
            return np.where(s0 > 0, (sx - slope * st) / s0, np.nan)


def _frames(instances: Sequence[np.ndarray], n_keypoints: int | None) -> list[np.ndarray]:
    """Each frame as (n, K, 3) float64 (a missing confidence column is 1)."""
    arrays = [np.asarray(a, dtype=np.float64) for a in instances]
    k = n_keypoints
    if k is None:
        k = next((a.shape[1] for a in arrays if a.size and a.ndim == 3), 0)
    out = []
    for f, a in enumerate(arrays):
        if a.size == 0:
            out.append(np.zeros((0, k, 3)))
            continue
        if a.ndim != 3 or a.shape[1] != k or a.shape[2] not in (2, 3):
            raise ValueError(f"frame {f}: instances must be (n, {k}, 2|3), got {a.shape}")
        if a.shape[2] == 2:
            a = np.concatenate([a, np.ones((*a.shape[:2], 1))], axis=2)
        out.append(a)
    return out


def _solve(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    rows, cols = linear_sum_assignment(matrix)
    return rows, cols, float(matrix[rows, cols].sum())


def assign(cost: np.ndarray, unmatched: float) -> list[tuple[int, int, float]]:
    """Optimal partial assignment of rows (instances) to columns (tracks).

    cost: (n, m), ``inf`` where a pair is not allowed; leaving a row or a column unmatched
    costs `unmatched` each. Returns (row, column, margin in [0, 1]) per pair.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    big = np.full((n + m, n + m), _FORBIDDEN)
    big[:n, :m] = np.where(np.isfinite(cost), cost, _FORBIDDEN)
    big[np.arange(n), m + np.arange(n)] = unmatched
    big[n + np.arange(m), np.arange(m)] = unmatched
    big[n:, m:] = 0.0
    rows, cols, total = _solve(big)
    pairs = []
    for r, c in zip(rows, cols, strict=True):
        if r >= n or c >= m or big[r, c] >= _FORBIDDEN:
            continue
        other = big.copy()
        other[r, c] = _FORBIDDEN
        alternative = _solve(other)[2]
        pair_cost = float(big[r, c])
        if alternative >= _FORBIDDEN:
            margin = 1.0
        else:
            delta = max(alternative - total, 0.0)
            margin = delta / (delta + pair_cost) if delta + pair_cost > 0 else 0.0
        pairs.append((int(r), int(c), margin))
    return pairs


def _centroid(points: np.ndarray) -> np.ndarray:
    """(..., K, 2) -> (..., 1, 2) the mean of the present parts."""
    present = np.isfinite(points).all(axis=-1, keepdims=True)
    total = np.where(present, points, 0.0).sum(axis=-2, keepdims=True)
    return total / np.maximum(present.sum(axis=-2, keepdims=True), 1)


def _cost(candidates: np.ndarray, references: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """(n, m) cost of each candidate (n, K, 3) against each reference pose (m, K, 2)."""
    if cfg.cost == "distance":
        cost = mean_distance_matrix(candidates, references)
    else:
        cost = 1.0 - oks_matrix(candidates, references, cfg.oks_sigma)
        no_reference = ~np.isfinite(references).all(axis=-1).any(axis=-1)
        cost[:, no_reference] = np.inf
    if cfg.max_cost is not None:
        cost = np.where(cost <= cfg.max_cost, cost, np.inf)
    return cost


def track(
    instances: Sequence[np.ndarray],
    cfg: TrackerConfig | None = None,
    *,
    n_keypoints: int | None = None,
) -> TrackResult:
    """Link per-frame instances (n_i, K, 3) x, y, confidence (or (n_i, K, 2)) into tracks."""
    cfg = cfg or TrackerConfig()
    frames = _frames(instances, n_keypoints)
    k = frames[0].shape[1] if frames else (n_keypoints or 0)
    tracks: list[_Track] = []
    records: list[tuple[int, int, int, float]] = []  # (frame, track, instance, confidence)
    instance_tracks = []
    unmatched = _UNGATED if cfg.max_cost is None else cfg.max_cost / 2
    for f, cands in enumerate(frames):
        scores = np.clip(instance_scores(cands), 0.0, 1.0) if len(cands) else np.zeros(0)
        owner = np.full(len(cands), -1)
        usable = np.flatnonzero(np.isfinite(cands[..., :2]).all(axis=-1).any(axis=-1))
        alive = [t for t, tr in enumerate(tracks) if f - tr.last_frame <= cfg.max_lost]
        chosen: list[tuple[int, int, float]] = []  # (instance, track, margin)
        if alive and len(usable):
            predicted = np.stack([tracks[t].predict(f) for t in alive])
            cost = _cost(cands[usable], predicted, cfg)
            chosen += [(usable[r], alive[c], m) for r, c, m in assign(cost, unmatched)]
        taken = {i for i, _, _ in chosen}
        by_score = usable[np.argsort(-scores[usable], kind="stable")]
        left = [int(i) for i in by_score if i not in taken]
        while left and (cfg.max_tracks is None or len(tracks) < cfg.max_tracks):
            tracks.append(_Track())
            chosen.append((left.pop(0), len(tracks) - 1, 1.0))
        lost = [t for t in range(len(tracks)) if t not in alive and tracks[t].frames]
        if left and lost:
            # All slots are taken: an animal coming back is one of those lost too long.
            # Parts seen on the way out may not be those seen coming back: compare centroids.
            last_seen = np.stack([_centroid(tracks[t].points[-1]) for t in lost])
            cost = mean_distance_matrix(_centroid(cands[left, :, :2]), last_seen)
            for r, c, margin in assign(cost, _UNGATED):
                tracks[lost[c]] = _Track()  # its old motion says nothing about the return
                chosen.append((left[r], lost[c], margin))
        for i, t, margin in chosen:
            tracks[t].add(f, cands[i, :, :2], cfg.window)
            owner[i] = t
            records.append((f, t, i, float(scores[i]) * margin))
        instance_tracks.append(owner)
    poses = np.full((len(frames), len(tracks), k, 3), np.nan)
    confidence = np.full((len(frames), len(tracks)), np.nan)
    for f, t, i, conf in records:
        poses[f, t] = frames[f][i]
        confidence[f, t] = conf
    names = [f"track_{t}" for t in range(len(tracks))]
    return TrackResult(poses, confidence, names, instance_tracks)


def apply_swaps(
    poses: np.ndarray, confidence: np.ndarray, swaps: Sequence[tuple[int, int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Swap tracks a and b from frame on, for each (frame, a, b) in order; returns new arrays.

    poses: (F, T, ...) and confidence: (F, T), as `TrackResult` holds them.
    """
    poses = np.array(poses, copy=True)
    confidence = np.array(confidence, copy=True)
    n_frames, n_tracks = confidence.shape[:2]
    if poses.shape[:2] != (n_frames, n_tracks):
        raise ValueError(f"poses {poses.shape} and confidence {confidence.shape} differ")
    for frame, a, b in swaps:
        if not 0 <= frame < n_frames:
            raise ValueError(f"swap frame {frame} is outside 0..{n_frames - 1}")
        if not (0 <= a < n_tracks and 0 <= b < n_tracks):
            raise ValueError(f"swap tracks {a}, {b}: there are {n_tracks} tracks")
        order = [b, a]
        poses[frame:, [a, b]] = poses[frame:, order]
        confidence[frame:, [a, b]] = confidence[frame:, order]
    return poses, confidence

"""Choosing by 3D consistency (Django-free): which frames of a multi-camera session to label
and which of their views, from `learning.geometry.consistency` scores.

Shared by the platform's 3D scoring job (`cameras.selection`) and the oracle replay
(`learning.selection.oracle`, strategy "views3d").
"""

from __future__ import annotations

import warnings

import numpy as np

from learning.geometry.camera import Camera
from learning.geometry.consistency import point_disagreement, view_disagreement

# A view is queued only when it is this far (px, mean over its points) from the other views.
MIN_ERROR_PX = 8.0
# A second view of the same frame is chosen too when its blame is this share of the worst's
# (two views wrong at once: leaving out either one still leaves a wrong view in).
SECOND_VIEW_SHARE = 0.9


def pick_frames(frames: np.ndarray, scores: np.ndarray, n: int, min_gap: int) -> list[int]:
    """Rows of the highest finite `scores`, at most n, no two of them less than `min_gap`
    session frames apart (consecutive frames show the same thing)."""
    picked: list[int] = []
    for row in np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable"):
        if len(picked) >= n or not np.isfinite(scores[row]):
            break
        if all(abs(int(frames[row]) - int(frames[p])) >= min_gap for p in picked):
            picked.append(int(row))
    return picked


def disagreeing_views(blame: np.ndarray, px: np.ndarray, min_error: float = MIN_ERROR_PX,
                      share: float = SECOND_VIEW_SHARE) -> list[int]:
    """Views to label at one frame, most to blame first: the view with the highest positive
    blame (C,) and any other with at least `share` of it, each only if its pixel error (C,)
    is `min_error` or more."""
    finite = np.where(np.isfinite(blame), blame, -np.inf)
    worst = float(finite.max(initial=-np.inf))
    if not worst > 0:
        return []
    order = np.argsort(-finite, kind="stable")
    return [int(c) for c in order
            if finite[c] >= share * worst and np.nan_to_num(px[c], nan=0.0) >= min_error]


def score_views(cameras: list[Camera], poses: np.ndarray, min_score: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame scores (F,), blame (C, F), view pixel errors (C, F)) of poses (C, F, K, 3)
    (x, y, likelihood).

    Frame score: `view_disagreement`'s (the worst view's leave-one-out disagreement, relative
    to the view's usual). Blame of a view: how much that score drops when the view is left
    out (the frame score of the other views alone): a wrong view's leave-one-out error spreads
    onto the clean views it is triangulated with, so the worst leave-one-out view is often a
    clean one (right 65-78 % of the time on mouse-4cam's proofread poses with one view moved
    15-30 px), while the view whose removal makes the others agree is the wrong one 97-100 %
    of the time. Pixel error: the mean leave-one-out error (`point_disagreement`), for
    thresholds and the queue. Blame is NaN where fewer than three views are measurable.
    """
    xy, scores = poses[..., :2], poses[..., 2]
    frame_scores, _ = view_disagreement(cameras, xy, scores, min_score=min_score)
    n = len(cameras)
    blame = np.full((n, xy.shape[1]), np.nan)
    if n >= 3:
        for c in range(n):
            keep = [i for i in range(n) if i != c]
            rest, _ = view_disagreement([cameras[i] for i in keep], xy[keep], scores[keep],
                                        min_score=min_score)
            blame[c] = frame_scores - rest
    per_point = point_disagreement(cameras, xy, scores, min_score=min_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # views without points stay NaN
        view_px = np.nanmean(per_point, axis=2)
    return frame_scores, blame, view_px

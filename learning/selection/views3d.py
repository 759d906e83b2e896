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
# A second view of the same frame is chosen too when its score is this share of the worst.
# Leave-one-out errors spread a wrong view's error onto the clean views it is triangulated
# with (with three cameras a clean view shows 50-75 % of the wrong one's error), so only a
# view about as wrong as the worst counts as a second disagreeing view.
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


def disagreeing_views(scores: np.ndarray, px: np.ndarray, min_error: float = MIN_ERROR_PX,
                      share: float = SECOND_VIEW_SHARE) -> list[int]:
    """Views to label at one frame, worst first: the view with the highest score (C,) and any
    other with at least `share` of it, each only if its pixel error (C,) is `min_error` or
    more."""
    finite = np.where(np.isfinite(scores), scores, -np.inf)
    worst = float(finite.max(initial=-np.inf))
    if not np.isfinite(worst):
        return []
    order = np.argsort(-finite, kind="stable")
    return [int(c) for c in order
            if finite[c] >= share * worst and np.nan_to_num(px[c], nan=0.0) >= min_error]


def score_views(cameras: list[Camera], poses: np.ndarray, min_score: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame scores (F,), view scores (C, F), view pixel errors (C, F)) of poses
    (C, F, K, 3) (x, y, likelihood): `view_disagreement` ranks frames and views, the mean
    leave-one-out pixel error (`point_disagreement`) says how far off a view is."""
    frame_scores, view_scores = view_disagreement(cameras, poses[..., :2], poses[..., 2],
                                                  min_score=min_score)
    per_point = point_disagreement(cameras, poses[..., :2], poses[..., 2], min_score=min_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # views without points stay NaN
        view_px = np.nanmean(per_point, axis=2)
    return frame_scores, view_scores, view_px

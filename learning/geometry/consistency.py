"""3D consistency of a frame's views: how badly each view disagrees with the others.

For every view, frame and keypoint the point is triangulated from the *other* views only
(leave-one-out, likelihood-weighted, no view dropping) and reprojected into the view: the
pixel distance is how far that view's 2D point is from where the others put it. A view
that is wrong by 15 px shows about 15 px; the others, triangulated with the wrong view
among them, show much less, and clean frames show the labeling noise (a few pixels).
Where only two views see a point, both get the two-view reprojection error.

Active learning (issue 18): a frame's score is its worst view's error, by default relative
to that view's usual disagreement (`view_disagreement`); the view with that error is the one
to send to an annotator, with "3D views disagree" as the reason.
"""

from __future__ import annotations

import warnings

import numpy as np

from .camera import Camera, project, undistort_normalized
from .triangulate import solve_points, view_weights


def point_disagreement(cameras: list[Camera], points2d: np.ndarray,
                       scores: np.ndarray | None = None, *, min_score: float = 0.0
                       ) -> np.ndarray:
    """(C, F, K) leave-one-out reprojection error in pixels; NaN where not measurable."""
    pts = np.asarray(points2d, dtype=np.float64)
    n_cam, n_frames, n_kp, _ = pts.shape
    weights = view_weights(pts, scores, min_score).reshape(n_cam, -1)
    flat = pts.reshape(n_cam, -1, 2)
    norm = np.stack([undistort_normalized(cam, flat[c]) for c, cam in enumerate(cameras)])
    used = weights > 0
    n_views = used.sum(axis=0)
    out = np.full((n_cam, flat.shape[1]), np.nan)
    both = solve_points(cameras, norm, np.where(n_views == 2, weights, 0.0), iterations=1)
    for c, cam in enumerate(cameras):
        others = weights.copy()
        others[c] = 0.0
        x = solve_points(cameras, norm, np.where(n_views >= 3, others, 0.0), iterations=1)
        x = np.where((n_views == 2)[:, None], both, x)
        err = np.linalg.norm(project(cam, x) - flat[c], axis=1)
        out[c] = np.where(used[c], err, np.nan)
    return out.reshape(n_cam, n_frames, n_kp)


def view_disagreement(cameras: list[Camera], points2d: np.ndarray,
                      scores: np.ndarray | None = None, *, min_score: float = 0.0,
                      relative: bool = True, floor_px: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(frame_scores (F,), view_errors (C, F)) for points2d (C, F, K, 2), scores (C, F, K).

    ``relative`` (default, with 10 or more frames): each point's `point_disagreement` is
    divided by that view's and keypoint's median over the frames given (at least
    ``floor_px``), so a view is scored by how much more than usual it disagrees. Views
    whose labels follow their own convention for a body part (mouse-4cam's back camera puts
    the trunk and tail 15-35 px from where the others do) then no longer outrank the view that
    is really wrong in this frame. Otherwise (or ``relative=False``) in pixels.
    ``view_errors[c, f]``: mean over keypoints, NaN where the view has no measurable point;
    ``frame_scores[f]``: the worst view's (0 where no view is measurable: such frames rank
    last). The view to show an annotator is ``argmax`` over views of ``view_errors``.
    """
    per_point = point_disagreement(cameras, points2d, scores, min_score=min_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices stay NaN
        if relative and per_point.shape[1] >= 10:
            usual = np.nanmedian(per_point, axis=1, keepdims=True)
            per_point = per_point / np.maximum(np.nan_to_num(usual, nan=floor_px), floor_px)
        view_errors = np.nanmean(per_point, axis=2)
        frame_scores = np.nan_to_num(np.nanmax(view_errors, axis=0), nan=0.0)
    return frame_scores, view_errors

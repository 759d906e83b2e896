"""Optional spatiotemporal refinement of triangulated poses (anipose's filter idea).

`refine` moves the 3D points to minimize, with ``scipy.optimize.least_squares`` (Huber loss):

- each view's likelihood-weighted reprojection error (pixels);
- ``smooth_weight`` x the acceleration ``X[t+1] - 2 X[t] + X[t-1]`` (world units), so
  trajectories are smooth without being pulled towards standing still;
- ``bone_weight`` x (``|X_a - X_b| - L_ab``) for each skeleton edge, ``L_ab`` the median
  length over the input frames, so bones keep a constant length.

Weights are pixels per world unit. Frames are solved in overlapping chunks, so memory stays
bounded; points that were NaN stay NaN (nothing is invented), gaps are only bridged for the
optimization. Off by default in `triangulate`'s callers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix

from .camera import Camera, project
from .triangulate import view_weights


def refine(
    cameras: list[Camera],
    points3d: np.ndarray,
    points2d: np.ndarray,
    scores: np.ndarray | None = None,
    edges: Sequence[tuple[int, int]] = (),
    *,
    smooth_weight: float = 1.0,
    bone_weight: float = 2.0,
    loss_px: float = 5.0,
    chunk_frames: int = 200,
) -> np.ndarray:
    """Refined (F, K, 3) points from (F, K, 3) points and their (C, F, K, 2) 2D views.

    ``edges``: skeleton edges as keypoint index pairs (constant bone lengths).
    """
    pts = np.asarray(points3d, dtype=np.float64)
    n_frames, n_kp, _ = pts.shape
    weights = view_weights(np.asarray(points2d, dtype=np.float64), scores, 0.0)
    lengths = np.array([np.nanmedian(np.linalg.norm(pts[:, a] - pts[:, b], axis=1))
                        for a, b in edges]) if len(edges) else np.zeros(0)
    filled = _interpolate(pts)
    out = filled.copy()
    overlap = 10
    for start in range(0, n_frames, chunk_frames):
        lo, hi = max(0, start - overlap), min(n_frames, start + chunk_frames + overlap)
        solved = _refine_chunk(cameras, filled[lo:hi], np.asarray(points2d)[:, lo:hi],
                               weights[:, lo:hi], list(edges), lengths, smooth_weight,
                               bone_weight, loss_px)
        out[start:min(n_frames, start + chunk_frames)] = solved[start - lo:start - lo
                                                                + chunk_frames]
    out[np.isnan(pts).any(axis=-1)] = np.nan
    return out


def _interpolate(pts: np.ndarray) -> np.ndarray:
    """NaN gaps filled linearly over time per keypoint (an all-NaN keypoint stays NaN)."""
    out = pts.copy()
    frames = np.arange(len(pts))
    for k in range(pts.shape[1]):
        ok = ~np.isnan(pts[:, k]).any(axis=1)
        if ok.any():
            for i in range(3):
                out[:, k, i] = np.interp(frames, frames[ok], pts[ok, k, i])
    return out


def _refine_chunk(cameras: list[Camera], x0: np.ndarray, points2d: np.ndarray,
                  weights: np.ndarray, edges: list[tuple[int, int]], lengths: np.ndarray,
                  smooth_weight: float, bone_weight: float, loss_px: float) -> np.ndarray:
    n_frames, n_kp, _ = x0.shape
    known = ~np.isnan(x0).any(axis=-1)  # (F, K) keypoints that exist at all
    obs = (weights > 0) & known[None]
    cam_i, frame_i, kp_i = np.nonzero(obs)
    sqrt_w = np.sqrt(weights[cam_i, frame_i, kp_i])[:, None]
    target = points2d[cam_i, frame_i, kp_i]
    var = np.flatnonzero(known.ravel())  # variables: 3 per known keypoint-frame
    index = np.full(n_frames * n_kp, -1)
    index[var] = np.arange(var.size)

    def unpack(v: np.ndarray) -> np.ndarray:
        x = np.zeros((n_frames * n_kp, 3))
        x[var] = v.reshape(-1, 3)
        return x.reshape(n_frames, n_kp, 3)

    acc_frames = np.arange(1, n_frames - 1)
    smooth_ok = known[:-2] & known[1:-1] & known[2:]  # (F-2, K)
    bone_ok = np.array([known[:, a] & known[:, b] for a, b in edges]).T if edges else None

    def residuals(v: np.ndarray) -> np.ndarray:
        x = unpack(v)
        parts = []
        for c, cam in enumerate(cameras):
            m = cam_i == c
            parts.append((sqrt_w[m] * (project(cam, x[frame_i[m], kp_i[m]]) - target[m]))
                         .ravel())
        if smooth_weight > 0 and n_frames > 2:
            acc = x[2:] - 2 * x[1:-1] + x[:-2]
            parts.append((smooth_weight * acc[smooth_ok]).ravel())
        if bone_weight > 0 and edges:
            for e, (a, b) in enumerate(edges):
                d = np.linalg.norm(x[:, a] - x[:, b], axis=1) - lengths[e]
                parts.append(bone_weight * d[bone_ok[:, e]])
        return np.concatenate(parts)

    sparsity = _sparsity(cameras, cam_i, frame_i, kp_i, index, n_kp, acc_frames, smooth_ok,
                         edges, bone_ok, smooth_weight > 0 and n_frames > 2,
                         bone_weight > 0 and bool(edges), var.size * 3)
    v0 = x0.reshape(-1, 3)[var].ravel()
    result = least_squares(residuals, v0, jac_sparsity=sparsity, loss="huber", f_scale=loss_px,
                           method="trf", x_scale="jac", max_nfev=50)
    return unpack(result.x)


def _sparsity(cameras: list[Camera], cam_i: np.ndarray, frame_i: np.ndarray, kp_i: np.ndarray,
              index: np.ndarray, n_kp: int, acc_frames: np.ndarray, smooth_ok: np.ndarray,
              edges: list[tuple[int, int]], bone_ok: np.ndarray | None, smooth: bool,
              bones: bool, n_vars: int) -> coo_matrix:
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    row = 0

    def add(var_ids: np.ndarray, width: int) -> None:
        """Each of ``len(var_ids)`` residual blocks of ``width`` rows uses those points."""
        nonlocal row
        n = var_ids.shape[0]
        block_rows = row + np.arange(n * width).reshape(n, width)
        for col_group in var_ids.T if var_ids.ndim > 1 else [var_ids]:
            for axis in range(3):
                rows.append(block_rows.ravel())
                cols.append(np.repeat(3 * col_group + axis, width))
        row += n * width

    for c in range(len(cameras)):
        m = cam_i == c
        add(index[frame_i[m] * n_kp + kp_i[m]], 2)
    if smooth:
        f, k = np.nonzero(smooth_ok)
        t = acc_frames[f]
        ids = np.stack([index[(t - 1) * n_kp + k], index[t * n_kp + k],
                        index[(t + 1) * n_kp + k]], axis=1)
        # one row per axis: each axis row depends on the same axis of three points
        for axis in range(3):
            r = row + np.arange(ids.shape[0]) * 3 + axis
            for j in range(3):
                rows.append(r)
                cols.append(3 * ids[:, j] + axis)
        row += ids.shape[0] * 3
    if bones:
        for e, (a, b) in enumerate(edges):
            f = np.flatnonzero(bone_ok[:, e])
            add(np.stack([index[f * n_kp + a], index[f * n_kp + b]], axis=1), 1)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return coo_matrix((np.ones(r.size), (r, c)), shape=(row, n_vars))

"""File-level steps of 3D work: calibrate a rig into files, triangulate a session into tables.

These are the one functions the ``calibrate`` / ``triangulate`` management commands (and the
Django side's tasks) call: paths in, files written, a JSON-ready summary out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from learning.formats.pose_table3d import write_anipose_csv, write_dlc3d, write_parquet3d
from learning.formats.view_poses import ViewPoses, read_view_poses

from .board import load_board
from .calibration import Calibration, CalibrationError, calibrate
from .calibration_toml import load_calibration_toml, save_calibration_toml
from .camera import Camera
from .filters import refine
from .triangulate import Triangulation, reprojection_errors, triangulate

Progress = Callable[[float, str], None]


class SessionError(ValueError):
    """Session files that do not fit together (cameras, body parts); the message says how."""


def calibrate_files(board_path: str | Path, videos: Mapping[str, str | Path],
                    out_toml: str | Path, progress: Progress | None = None,
                    **options: object) -> dict:
    """Calibrate from board videos; write ``out_toml`` and ``<stem>-<camera>.png`` beside it.

    Returns {"calibration": path, "cameras": [names], "reprojection_px": {name: {median,
    mean, n_frames, n_corners}}, "diagnostics": {name: png path}}. Raises CalibrationError.
    """
    board = load_board(Path(board_path))
    result: Calibration = calibrate(board, videos, progress, **options)
    out = Path(out_toml)
    metadata = {"adjusted": True, "board": str(Path(board_path).name),
                "error": float(np.mean([r["median"] for r in result.reprojection.values()]))}
    save_calibration_toml(result.cameras, out, metadata)
    pictures = {}
    for name, image in result.diagnostics.items():
        png = out.with_name(f"{out.stem}-{name}.png")
        if not cv2.imwrite(str(png), image):
            raise CalibrationError(f"could not write {png}")
        pictures[name] = str(png)
    return {"calibration": str(out), "cameras": [c.name for c in result.cameras],
            "reprojection_px": result.reprojection, "diagnostics": pictures}


def load_views(cameras: Sequence[Camera], poses: Mapping[str, str | Path],
               offsets: Mapping[str, int] | None = None
               ) -> tuple[list[Camera], list[str], np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """(cameras used, bodyparts, points2d (C, F, K, 2), scores (C, F, K), skeleton edges)
    of the pose files (edges: the first file's that has any, SLEAP files carry them).

    Cameras are matched by name and kept in the calibration's order; body parts are matched
    by name (the first file's order); shorter views are padded with missing frames.
    ``offsets``: per camera, the frame of its poses that is the session's frame 0.
    """
    by_name = {c.name: c for c in cameras}
    unknown = [n for n in poses if n not in by_name]
    if unknown:
        raise SessionError(f"camera(s) {', '.join(unknown)} are not in the calibration "
                           f"({', '.join(by_name)})")
    names = [c.name for c in cameras if c.name in poses]
    if len(names) < 2:
        raise SessionError("triangulation needs the poses of at least two cameras")
    views: dict[str, ViewPoses] = {n: read_view_poses(poses[n]) for n in names}
    bodyparts = views[names[0]].bodyparts
    for n in names[1:]:
        if set(views[n].bodyparts) != set(bodyparts):
            raise SessionError(f"camera {n} has body parts {views[n].bodyparts}, camera "
                               f"{names[0]} has {bodyparts}")
    offsets = dict(offsets or {})
    n_frames = max(len(v.points) - offsets.get(n, 0) for n, v in views.items())
    points = np.full((len(names), n_frames, len(bodyparts), 2), np.nan)
    scores = np.zeros((len(names), n_frames, len(bodyparts)))
    for c, n in enumerate(names):
        order = [views[n].bodyparts.index(b) for b in bodyparts]
        start = offsets.get(n, 0)
        pts, sc = views[n].points[start:, order], views[n].scores[start:, order]
        points[c, : len(pts)], scores[c, : len(sc)] = pts, sc
    edges = next((v.edges for v in views.values() if v.edges), [])
    return [by_name[n] for n in names], list(bodyparts), points, scores, edges


def reprojection_summary(names: Sequence[str], tri: Triangulation) -> dict[str, dict]:
    """Per camera {median, mean, points, dropped}: pixel error of every 2D point of the view
    that has a 3D point (dropped outlier views included: they count against the view)."""
    out = {}
    for c, name in enumerate(names):
        e = tri.reprojection_px[c]
        e = e[np.isfinite(e)]
        observed = np.isfinite(tri.reprojection_px[c])
        out[name] = {
            "median": float(np.median(e)) if e.size else None,
            "mean": float(np.mean(e)) if e.size else None,
            "points": int(e.size),
            "dropped": int((observed & ~tri.views_used[c]).sum()),
        }
    return out


def triangulate_files(calibration_toml: str | Path, poses: Mapping[str, str | Path],
                      out_dir: str | Path, *, stem: str = "points3d", scorer: str = "PoseLoop3D",
                      min_score: float = 0.0, outlier_px: float = 20.0,
                      offsets: Mapping[str, int] | None = None,
                      edges: Sequence[tuple[str, str]] | None = None, smooth_weight: float = 0.0,
                      bone_weight: float = 0.0) -> dict:
    """Triangulate one session's per-camera pose files into 3D tables in ``out_dir``.

    Writes ``<stem>.h5`` + ``<stem>.csv`` (DeepLabCut 3D), ``<stem>_anipose.csv`` and
    ``<stem>.parquet``. With ``smooth_weight`` or ``bone_weight`` > 0 the points are refined
    (`filters.refine`, bones from ``edges`` as name pairs, default: the files' skeleton).
    Returns {"frames", "bodyparts",
    "cameras", "reprojection_px": {cam: {median, mean, points, dropped}}, "points",
    "files"}.
    """
    cameras, bodyparts, points2d, scores, file_edges = load_views(
        load_calibration_toml(calibration_toml), poses, offsets)
    edges = file_edges if edges is None else list(edges)
    tri = triangulate(cameras, points2d, scores, min_score=min_score, outlier_px=outlier_px)
    points3d = tri.points3d
    if smooth_weight > 0 or bone_weight > 0:
        index = {b: i for i, b in enumerate(bodyparts)}
        missing = [e for e in edges if e[0] not in index or e[1] not in index]
        if missing:
            raise SessionError(f"skeleton edges name unknown body parts: {missing}")
        used_2d = np.where(tri.views_used[..., None], points2d, np.nan)
        points3d = refine(cameras, points3d, used_2d, scores,
                          [(index[a], index[b]) for a, b in edges],
                          smooth_weight=smooth_weight, bone_weight=bone_weight)
        tri = Triangulation(points3d, reprojection_errors(cameras, points3d, points2d),
                            tri.views_used)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ncams = tri.views_used.sum(axis=0)
    with np.errstate(invalid="ignore"):
        used_err = np.where(tri.views_used, tri.reprojection_px, 0.0).sum(axis=0) / ncams
        score = np.where(tri.views_used, scores, 0.0).sum(axis=0) / ncams
    h5, csv = write_dlc3d(out / stem, scorer, bodyparts, points3d)
    files = [h5, csv,
             write_anipose_csv(out / f"{stem}_anipose.csv", bodyparts, points3d, used_err,
                               ncams, score),
             write_parquet3d(out / f"{stem}.parquet", bodyparts, points3d, used_err, ncams,
                             score)]
    names = [c.name for c in cameras]
    return {
        "frames": int(points3d.shape[0]),
        "bodyparts": bodyparts,
        "cameras": names,
        "reprojection_px": reprojection_summary(names, tri),
        "points": int(np.isfinite(points3d).all(axis=-1).sum()),
        "files": [str(f) for f in files],
    }

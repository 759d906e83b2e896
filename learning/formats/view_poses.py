"""One camera's 2D poses over a video, from a SLEAP file or a pose table, for triangulation.

- SLEAP ``.slp`` (sleap-io): one instance per frame - the user instance where there is one,
  else the predicted instance with the highest score (PoseLoop sessions hold one animal).
  Point scores of predicted instances are the likelihoods; user points score 1. Videos are
  not opened (their stored paths are usually another machine's); frame numbers are the
  labeled frames' ``frame_idx``, and frames without an instance are NaN.
- PoseLoop / DeepLabCut pose tables (``.h5`` / ``.csv``): `read_pose_table`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FormatError, existing_file
from .pose_table import read_pose_table
from .sleap import load_labels


@dataclass
class ViewPoses:
    """2D poses of one animal in one camera.

    points (F, K, 2) px (NaN = missing), scores (F, K) in [0, 1]; edges: the skeleton's
    edges as name pairs where the file has them (SLEAP), else empty.
    """

    bodyparts: list[str]
    points: np.ndarray
    scores: np.ndarray
    edges: list[tuple[str, str]] = field(default_factory=list)


def read_view_poses(path: str | Path) -> ViewPoses:
    """Read a .slp, .h5 or .csv of one camera's poses (see the module docstring)."""
    path = existing_file(path, allow_empty=True)
    if path.suffix.lower() == ".slp":
        return _read_slp(path)
    table = read_pose_table(path)
    if table.individuals is not None and len(table.individuals) != 1:
        raise FormatError(
            f"expected the poses of one animal, found individuals {', '.join(table.individuals)}",
            path,
        )
    poses = table.keypoints[:, 0]
    return ViewPoses(table.bodyparts, poses.copy(), table.likelihood[:, 0].copy())


def _read_slp(path: Path) -> ViewPoses:
    labels = load_labels(path)
    if len(labels.videos) > 1:
        raise FormatError(f"expected the poses of one video, found {len(labels.videos)}", path)
    names = [str(node.name) for node in labels.skeletons[0].nodes]
    frames = [lf.frame_idx for lf in labels.labeled_frames]
    n = max(frames, default=-1) + 1
    points = np.full((n, len(names), 2), np.nan)
    scores = np.zeros((n, len(names)))
    for lf in labels.labeled_frames:
        if lf.user_instances:
            inst = lf.user_instances[0]
            xy, sc = inst.numpy(), np.ones(len(names))
        elif lf.predicted_instances:
            inst = max(lf.predicted_instances, key=lambda i: float(i.score or 0.0))
            xy, sc = inst.numpy(), np.asarray(inst.points["score"], dtype=np.float64)
        else:
            continue
        points[lf.frame_idx] = xy
        scores[lf.frame_idx] = np.where(np.isnan(xy).any(axis=1), 0.0, np.clip(sc, 0, 1))
    edges = [(e.source.name, e.destination.name) for e in labels.skeletons[0].edges]
    return ViewPoses(names, points, scores, edges)

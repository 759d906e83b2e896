"""Pose arrays → label points in the annotation contract's shape (single or multi-animal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from annotation.models import PointState
from learning.formats.pose import NOT_PRESENT, OCCLUDED


def points_from_arrays(keypoints: np.ndarray, visibility: np.ndarray, part_ids: Sequence[int]
                       ) -> list[dict[str, Any]]:
    """One point per body part from keypoints (K, 2) and COCO visibility (K,)."""
    points = []
    for k, part in enumerate(part_ids):
        if visibility[k] == NOT_PRESENT or not np.isfinite(keypoints[k]).all():
            points.append({"bodypart": part, "x": None, "y": None,
                           "state": PointState.ABSENT.value})
        else:
            state = PointState.OCCLUDED if visibility[k] == OCCLUDED else PointState.VISIBLE
            points.append({"bodypart": part, "x": float(keypoints[k, 0]),
                           "y": float(keypoints[k, 1]), "state": state.value})
    return points


def instances_from_arrays(keypoints: np.ndarray, visibility: np.ndarray,
                          part_ids: Sequence[int], tracks: Sequence[str]
                          ) -> list[dict[str, Any]]:
    """A multi-animal label: one instance per animal of keypoints (N, K, 2) with at least one
    placed point, named by `tracks` (N,)."""
    out = []
    for n in range(keypoints.shape[0]):
        present = (visibility[n] != NOT_PRESENT) & np.isfinite(keypoints[n]).all(axis=-1)
        if present.any():
            out.append({"track": tracks[n],
                        "points": points_from_arrays(keypoints[n], visibility[n], part_ids)})
    return out

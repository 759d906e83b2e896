"""Calibration, triangulation and the 3D-consistency score on the real four-camera mouse.

Skipped without $POSELOOP_SHARED_DATA. The rig is calibrated once for the module (~30 s on
a loaded 2-core machine). Figures: docs/benchmarks.md, issue 18.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from learning.geometry.board import load_board
from learning.geometry.calibration import calibrate
from learning.geometry.consistency import view_disagreement
from learning.geometry.session import load_views
from learning.geometry.triangulate import triangulate

from .conftest import MOUSE_CAMERAS, mouse_poses, mouse_videos
from .test_consistency import corrupt_one_view

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def calibration(mouse4cam):
    return calibrate(load_board(mouse4cam / "board.toml"), mouse_videos(mouse4cam))


@pytest.fixture(scope="module")
def views(mouse4cam, calibration):
    """(cameras, bodyparts, points2d (4, 120, 15, 2), scores (4, 120, 15))."""
    cameras, bodyparts, points, scores, _ = load_views(calibration.cameras,
                                                       mouse_poses(mouse4cam))
    return cameras, bodyparts, points, scores


def test_board_corners_reproject_within_one_pixel_in_every_camera(calibration) -> None:
    assert [c.name for c in calibration.cameras] == MOUSE_CAMERAS
    for name in MOUSE_CAMERAS:
        stats = calibration.reprojection[name]
        assert stats["median"] <= 1.0, (name, stats)
        assert stats["n_frames"] == 21 and stats["n_corners"] > 1300


def test_proofread_poses_triangulate_consistently(views) -> None:
    """Per camera median reprojection error of every proofread point.

    The issue's goal (<= 4 px in every camera) holds for mid and top; back and side stay at
    ~9 and ~6 px because their body and tail points are placed differently from the other
    views' (Trunk, Tail_0-2 and Haunch_right differ by 15-35 px whatever the calibration),
    while well-defined points such as the ears agree within 4 px in every camera.
    """
    cameras, bodyparts, points, scores = views
    tri = triangulate(cameras, points, scores)
    assert np.isfinite(tri.points3d).all()
    median = np.nanmedian(tri.reprojection_px, axis=(1, 2))
    assert median[MOUSE_CAMERAS.index("mid")] <= 4.0
    assert median[MOUSE_CAMERAS.index("top")] <= 4.0
    ears = [bodyparts.index("Ear_R"), bodyparts.index("Ear_L")]
    assert (np.nanmedian(tri.reprojection_px[:, :, ears], axis=(1, 2)) <= 4.0).all()


@pytest.mark.parametrize("whole_view", [False, True])
def test_frames_with_one_corrupted_view_rank_above_clean_ones(views, whole_view) -> None:
    """Half the frames get one view moved 15-30 px; the score ranks them first and, most of
    the time, its worst view is the moved one (the back camera's own label convention would
    outrank it in pixels: the score is relative to each view's usual disagreement)."""
    cameras, _, points, scores = views
    for seed in range(3):
        corrupted, bad, moved = corrupt_one_view(points, seed, whole_view=whole_view)
        frame_scores, view_errors = view_disagreement(cameras, corrupted, scores)
        assert roc_auc_score(bad, frame_scores) >= 0.95
        worst = np.argmax(np.nan_to_num(view_errors, nan=-1.0), axis=0)
        assert (worst[bad] == moved[bad]).mean() >= (0.8 if whole_view else 0.9)

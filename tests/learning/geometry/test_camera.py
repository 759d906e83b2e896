import cv2
import numpy as np

from learning.geometry.camera import (
    Camera,
    distort,
    project,
    undistort_normalized,
    undistort_pixels,
)


def _camera() -> Camera:
    return Camera("a", (1280, 1024), np.array([[900.0, 0, 650], [0, 910, 500], [0, 0, 1]]),
                  np.array([-0.3, 0.1, 0.001, -0.002, 0.01]), np.array([0.1, -0.2, 0.3]),
                  np.array([10.0, -20, 600]))


def test_project_matches_opencv() -> None:
    cam = _camera()
    pts = np.random.default_rng(0).normal(0, 100, (50, 3))
    ours = project(cam, pts)
    theirs = cv2.projectPoints(pts, cam.rvec, cam.tvec, cam.matrix, cam.dist)[0].reshape(-1, 2)
    assert np.abs(ours - theirs).max() < 1e-6


def test_undistort_inverts_distort_to_a_micro_pixel() -> None:
    cam = _camera()
    normalized = np.random.default_rng(1).uniform(-0.6, 0.6, (200, 2))
    pixels = distort(normalized, cam.dist) * [900, 910] + [650, 500]
    assert np.abs(undistort_normalized(cam, pixels) - normalized).max() * 900 < 1e-6


def test_nan_and_points_behind_stay_nan() -> None:
    cam = _camera()
    out = project(cam, np.array([[np.nan, 0, 0], [0, 0, -2000.0]]))
    assert np.isnan(out).all()
    assert np.isnan(undistort_pixels(cam, np.array([[np.nan, np.nan]]))).all()


def test_camera_centre_projects_to_nothing_and_extrinsic_shape() -> None:
    cam = _camera()
    assert cam.extrinsic.shape == (3, 4)
    assert np.allclose(cam.rotation @ cam.center + cam.tvec, 0)

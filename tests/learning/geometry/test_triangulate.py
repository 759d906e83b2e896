import numpy as np
import pytest

from learning.geometry.camera import project
from learning.geometry.synthetic import render_points
from learning.geometry.triangulate import reproject, triangulate


def test_noise_free_points_are_recovered_exactly(rig, animal) -> None:
    tri = triangulate(rig, render_points(rig, animal))
    assert np.abs(tri.points3d - animal).max() < 1e-6
    assert np.nanmax(tri.reprojection_px) < 1e-6
    assert tri.views_used.all()
    assert np.allclose(reproject(rig, tri.points3d), render_points(rig, animal))


def _cramer_rao_mse(rig, points: np.ndarray, sigma: float) -> np.ndarray:
    """Per point, the trace of the inverse Fisher information of its 3D position (mm^2)."""
    pts = points.reshape(-1, 3)
    fisher = np.zeros((len(pts), 3, 3))
    h = 1e-4
    for cam in rig:
        jac = np.stack([(project(cam, pts + h * e) - project(cam, pts - h * e)) / (2 * h)
                        for e in np.eye(3)], axis=-1)  # (N, 2, 3)
        fisher += np.einsum("nki,nkj->nij", jac, jac) / sigma**2
    return np.trace(np.linalg.inv(fisher), axis1=1, axis2=2)


def test_one_pixel_noise_error_is_within_ten_percent_of_the_cramer_rao_bound(rig, animal):
    """With sigma = 1 px the RMS 3D error is at most 10 % above what the rig's geometry
    allows (the Cramér-Rao bound of an unbiased estimator, the ML estimator's error)."""
    squared = []
    for seed in range(8):
        tri = triangulate(rig, render_points(rig, animal, noise_px=1.0, seed=seed))
        squared.append(np.sum((tri.points3d - animal) ** 2, axis=-1))
    measured = np.sqrt(np.mean(squared))
    bound = np.sqrt(np.mean(_cramer_rao_mse(rig, animal, 1.0)))
    assert measured <= 1.10 * bound, (measured, bound)
    assert measured >= 0.9 * bound  # the noise really was there: no estimator beats it


def test_one_wrong_view_is_dropped_and_the_point_stays_right(rig, animal) -> None:
    pts = render_points(rig, animal, noise_px=0.5, seed=1)
    pts[2, :, 3] += [45.0, -30.0]  # camera 2 is wrong about keypoint 3 in every frame
    tri = triangulate(rig, pts, outlier_px=10.0)
    assert not tri.views_used[2, :, 3].any()
    assert tri.views_used[[0, 1, 3]].all()
    assert np.linalg.norm(tri.points3d[:, 3] - animal[:, 3], axis=-1).max() < 2.0
    assert np.nanmedian(tri.reprojection_px[2, :, 3]) > 40  # the dropped view's error shows


def test_without_dropping_the_wrong_view_pulls_the_point(rig, animal) -> None:
    pts = render_points(rig, animal)
    pts[2, :, 3] += [45.0, -30.0]
    kept = triangulate(rig, pts, max_dropped=0)
    assert kept.views_used.all()
    assert np.linalg.norm(kept.points3d[:, 3] - animal[:, 3], axis=-1).min() > 2.0


def test_missing_views_are_allowed(rig, animal) -> None:
    pts = render_points(rig, animal)
    pts[0, ::2] = np.nan  # camera 0 misses every other frame
    pts[1, :, :5] = np.nan  # camera 1 never sees the first five keypoints
    pts[2:, 7, 0] = np.nan  # frame 7, keypoint 0: only camera 0 and ... nobody else
    pts[1, 7, 0] = np.nan
    tri = triangulate(rig, pts)
    assert np.isnan(tri.points3d[7, 0]).all()  # one view only: no 3D point
    ok = ~np.isnan(tri.points3d).any(axis=-1)
    assert ok.sum() == ok.size - 1
    assert np.abs(tri.points3d[ok] - animal[ok]).max() < 1e-6
    assert not tri.views_used[0, ::2].any() and np.isnan(tri.reprojection_px[0, ::2]).all()


def test_scores_weight_views_and_min_score_ignores_them(rig, animal) -> None:
    pts = render_points(rig, animal)
    pts[1] += 6.0  # camera 1 is off, but says so through its low likelihood
    scores = np.ones(pts.shape[:3])
    scores[1] = 0.05
    weighted = triangulate(rig, pts, scores, max_dropped=0)
    equal = triangulate(rig, pts, None, max_dropped=0)
    err = [np.linalg.norm(t.points3d - animal, axis=-1).mean() for t in (weighted, equal)]
    assert err[0] < 0.2 * err[1]
    ignored = triangulate(rig, pts, scores, min_score=0.1)
    assert not ignored.views_used[1].any()
    assert np.abs(ignored.points3d - animal).max() < 1e-6


def test_bad_shapes_are_refused(rig) -> None:
    with pytest.raises(ValueError, match="points2d must be shaped"):
        triangulate(rig, np.zeros((3, 5, 2, 2)))
    with pytest.raises(ValueError, match="scores must be shaped"):
        triangulate(rig, np.zeros((4, 5, 2, 2)), np.ones((4, 5)))


def test_points_labeled_in_two_views_are_filled_in_the_others(rig, animal) -> None:
    from learning.geometry.triangulate import fill_missing_views

    truth = render_points(rig, animal[:5])
    labeled = truth.copy()
    labeled[2:] = np.nan  # only cameras 0 and 1 labeled
    labeled[1, 0, 0] = np.nan  # frame 0, keypoint 0: one view only, nothing to fill from
    filled = fill_missing_views(rig, labeled)
    assert np.array_equal(filled[:2, 1:], truth[:2, 1:])  # given points kept
    assert np.abs(filled[2:, 1:] - truth[2:, 1:]).max() < 1e-6
    assert np.isnan(filled[1:, 0, 0]).all()

import numpy as np
from sklearn.metrics import roc_auc_score

from learning.geometry.consistency import point_disagreement, view_disagreement
from learning.geometry.synthetic import render_points


def corrupt_one_view(points2d: np.ndarray, seed: int, *, whole_view: bool = False,
                     min_px: float = 15.0, max_px: float = 30.0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the frames get one random view moved by min_px..max_px (each keypoint its own
    direction, or the whole view one shift). Returns (points, corrupted frames, views)."""
    rng = np.random.default_rng(seed)
    n_cam, n_frames, n_kp, _ = points2d.shape
    bad = rng.random(n_frames) < 0.5
    views = rng.integers(0, n_cam, n_frames)
    out = points2d.copy()
    for f in np.flatnonzero(bad):
        n = 1 if whole_view else n_kp
        angle, size = rng.uniform(0, 2 * np.pi, n), rng.uniform(min_px, max_px, n)
        out[views[f], f] += np.stack([np.cos(angle), np.sin(angle)], axis=-1) * size[:, None]
    return out, bad, views


def test_corrupted_frames_rank_above_clean_ones(rig, animal) -> None:
    clean = render_points(rig, animal, noise_px=1.0, seed=3)
    for whole_view in (False, True):
        pts, bad, views = corrupt_one_view(clean, seed=4, whole_view=whole_view)
        frame_scores, view_errors = view_disagreement(rig, pts)
        assert roc_auc_score(bad, frame_scores) >= 0.95
        # the worst view of a corrupted frame is the corrupted one
        worst = np.argmax(view_errors, axis=0)
        assert (worst[bad] == views[bad]).mean() >= 0.9


def test_pixels_or_relative_to_the_usual_disagreement(rig, animal) -> None:
    pts = render_points(rig, animal, noise_px=1.0, seed=6)
    pts[0] += np.random.default_rng(0).normal(0, 6.0, pts[0].shape)  # a sloppy camera
    pts[2, 7] += [25.0, 0.0]  # and one wrong view in frame 7
    _, pixels = view_disagreement(rig, pts, relative=False)
    _, relative = view_disagreement(rig, pts)
    assert np.nanmedian(pixels[0]) > 5 and np.nanmedian(relative[0]) < 1.5
    assert np.argmax(relative[:, 7]) == 2
    assert np.argmax(relative[2]) == 7


def test_clean_views_disagree_by_the_noise_only(rig, animal) -> None:
    per_point = point_disagreement(rig, render_points(rig, animal, noise_px=1.0, seed=5))
    assert per_point.shape == (4, *animal.shape[:2])
    assert 0.5 < np.nanmedian(per_point) < 3.0


def test_two_views_and_missing_views(rig, animal) -> None:
    pts = render_points(rig, animal)
    pts[2:, :10] = np.nan  # frames 0-9: two views only
    pts[1:, 10] = np.nan  # frame 10: one view, nothing to compare
    frame_scores, view_errors = view_disagreement(rig, pts)
    assert np.all(frame_scores[:10] < 1e-6)
    assert frame_scores[10] == 0.0 and np.isnan(view_errors[:, 10]).all()
    assert np.isnan(view_errors[2:, :10]).all()

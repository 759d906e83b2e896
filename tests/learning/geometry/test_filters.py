import numpy as np

from learning.geometry.filters import refine
from learning.geometry.synthetic import BODYPARTS, EDGES, render_points
from learning.geometry.triangulate import triangulate

INDEX = {b: i for i, b in enumerate(BODYPARTS)}
EDGE_IDS = [(INDEX[a], INDEX[b]) for a, b in EDGES]


def _bone_std(points: np.ndarray) -> float:
    return float(np.mean([np.linalg.norm(points[:, a] - points[:, b], axis=1).std()
                          for a, b in EDGE_IDS]))


def test_smoothing_and_bones_reduce_the_error_and_steady_the_bones(rig, animal) -> None:
    pts = render_points(rig, animal, noise_px=2.0, seed=7)
    raw = triangulate(rig, pts).points3d
    refined = refine(rig, raw, pts, None, EDGE_IDS, smooth_weight=1.0, bone_weight=2.0)
    rms = [np.sqrt(np.mean(np.sum((p - animal) ** 2, axis=-1))) for p in (raw, refined)]
    assert rms[1] < 0.85 * rms[0]
    assert _bone_std(refined) < 0.7 * _bone_std(raw)


def test_missing_points_stay_missing(rig, animal) -> None:
    pts = render_points(rig, animal[:40], noise_px=1.0, seed=8)
    raw = triangulate(rig, pts).points3d
    raw[10:14, 2] = np.nan
    refined = refine(rig, raw, pts, None, EDGE_IDS, chunk_frames=15)
    assert np.isnan(refined[10:14, 2]).all()
    assert np.isfinite(np.delete(refined, np.s_[10:14], axis=0)).all()

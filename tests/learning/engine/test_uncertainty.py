"""Acquisition scores on constructed model outputs whose answer is known."""

import numpy as np
import pytest

from learning.engine.uncertainty import (
    combine,
    confidence,
    default_edges,
    ensemble_variance,
    fit_skeleton_stats,
    heatmap_entropy,
    label_outliers,
    model_disagreement,
    rank_normalize,
    resolve_weights,
    robust_z,
    second_peak_ratio,
    skeleton_implausibility,
    tta_disagreement,
    unflip_poses,
    unscale_poses,
)


def gaussian_map(h, w, centres, sigma=1.5, heights=None):
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w))
    for i, (cx, cy) in enumerate(centres):
        amp = 1.0 if heights is None else heights[i]
        out = np.maximum(out, amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)))
    return out


def test_two_peak_heatmap_has_more_entropy_than_one_peak():
    one = gaussian_map(32, 32, [(10, 10)])[None]
    two = gaussian_map(32, 32, [(8, 8), (24, 24)])[None]
    assert heatmap_entropy([two])[0] > heatmap_entropy([one])[0]


def test_second_peak_ratio_sees_the_rival_peak():
    one = gaussian_map(32, 32, [(10, 10)])[None]
    two = gaussian_map(32, 32, [(8, 8), (24, 24)], heights=[1.0, 0.8])[None]
    ratios = second_peak_ratio([one, two])
    assert ratios[0] < 0.05
    assert ratios[1] == pytest.approx(0.8, abs=0.02)


def test_low_likelihood_scores_high_confidence_component():
    poses = np.zeros((2, 3, 3))
    poses[0, :, 2] = 0.95
    poses[1, :, 2] = 0.2
    scores = confidence(poses)
    assert scores[1] > scores[0]


def test_flip_consistent_prediction_scores_low_tta_disagreement():
    width = 100
    pose = np.array([[[30.0, 40.0, 0.9], [20.0, 50.0, 0.9], [40.0, 50.0, 0.9]]])
    # What a flip-equivariant model predicts on the mirrored image: mirrored x, left/right swapped.
    mirrored = pose.copy()
    mirrored[..., 0] = width - 1 - pose[..., 0]
    mirrored = mirrored[:, [0, 2, 1]]
    consistent = unflip_poses(mirrored, width, [(1, 2)])
    assert tta_disagreement(pose, [consistent])[0] == pytest.approx(0.0, abs=1e-9)
    confused = unflip_poses(mirrored[:, [0, 2, 1]], width, [(1, 2)])  # left/right mixed up
    assert tta_disagreement(pose, [confused])[0] > 10


def test_zoom_back_mapping_is_exact():
    pose = np.array([[[30.0, 40.0, 0.9]]])
    w, h, f = 100, 80, 0.9
    cx, cy = (w - 1) / 2, (h - 1) / 2
    zoomed = pose.copy()
    zoomed[..., 0] = (pose[..., 0] - cx) * f + cx
    zoomed[..., 1] = (pose[..., 1] - cy) * f + cy
    np.testing.assert_allclose(unscale_poses(zoomed, f, w, h), pose)


def test_model_disagreement_and_ensemble_variance():
    a = np.zeros((2, 2, 3))
    b = a.copy()
    b[1, :, 0] = 3.0
    b[1, :, 1] = 4.0
    np.testing.assert_allclose(model_disagreement(a, b), [0.0, 5.0])
    spread = ensemble_variance([a, b])
    assert spread[0] == 0 and spread[1] == pytest.approx(2.5)


def test_temporal_jump_is_detected():
    from learning.engine.uncertainty import temporal_inconsistency

    t = np.arange(20, dtype=float)
    tracks = np.stack([np.stack([t * 2, t], axis=1)] * 2, axis=1)  # (20, 2, 2) smooth motion
    tracks[9, 1] += [30.0, -25.0]
    scores = temporal_inconsistency(tracks)
    assert int(np.argmax(scores)) == 9
    assert scores[9] > 10 * np.median(scores)


def _mice(n=40, seed=0):
    rng = np.random.default_rng(seed)
    base = np.array([[0.0, 0.0], [-6.0, 8.0], [6.0, 8.0], [0.0, 30.0]])  # snout, ears, tail
    out = []
    for _ in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        scale = rng.uniform(0.8, 1.2)
        out.append(base @ rot.T * scale + rng.uniform(50, 150, 2) + rng.normal(0, 0.3, (4, 2)))
    return np.stack(out)


def test_implausible_limb_length_is_flagged():
    labeled = _mice()
    stats = fit_skeleton_stats(labeled, default_edges(4))
    good = _mice(1, seed=5)
    bad = good.copy()
    bad[0, 3] = bad[0, 0] + (bad[0, 3] - bad[0, 0]) * 3  # tail three times too far
    scores = skeleton_implausibility(np.concatenate([good, bad]), stats)
    assert scores[0] < 4 < scores[1]


def test_label_outliers_finds_a_swapped_label():
    labeled = _mice()
    labeled[7, [0, 3]] = labeled[7, [3, 0]]  # snout and tail base swapped: geometry breaks
    assert 7 in label_outliers(labeled, default_edges(4)).tolist()
    assert len(label_outliers(_mice(), default_edges(4))) == 0


def test_normalisations_are_in_unit_range():
    values = np.array([3.0, 1.0, 2.0, 2.0, np.nan])
    ranks = rank_normalize(values)
    assert ranks.min() == 0 and ranks.max() == 1 and ranks[2] == ranks[3]
    z = robust_z(np.array([1.0, 2.0, 3.0, 100.0]))
    assert ((z >= 0) & (z <= 1)).all() and z[3] == 1.0


def test_combine_weights_components_and_ignores_zero_weights():
    comps = {"confidence": np.array([0.1, 0.9, 0.5]), "entropy": np.array([0.9, 0.1, 0.5])}
    only_conf = combine(comps, {"confidence": 1.0, "entropy": 0.0})
    assert int(np.argmax(only_conf)) == 1
    both = combine(comps, {"confidence": 1.0, "entropy": 1.0})
    np.testing.assert_allclose(both, [0.5, 0.5, 0.5])


def test_unknown_weight_names_are_errors():
    assert resolve_weights({"tta": 2})["tta"] == 2.0
    with pytest.raises(ValueError, match="unknown"):
        resolve_weights({"tta_typo": 1})

"""OKS, instance matching, OKS mAP, per-node error and identity switches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from learning.engine.multi.metrics import (
    identity_switches,
    match_instances_oks,
    node_errors,
    oks,
    oks_map,
)

# A 10 x 10 px square animal: its bounding-box area is 100 px².
SQUARE = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def _with_score(points: np.ndarray, score: float) -> np.ndarray:
    return np.concatenate([points, np.full((*points.shape[:-1], 1), score)], axis=-1)


def test_oks_is_one_for_identical_poses_and_falls_with_distance():
    values = [oks(SQUARE + [d, 0.0], SQUARE) for d in (0.0, 0.5, 1.0, 2.0, 5.0)]
    assert values[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < 0.01


def test_oks_matches_the_formula_by_hand():
    # d = 0.5 px on every node, area 100, sigma 0.025: exp(-0.25 / (2 * 100 * 0.05**2)).
    assert oks(SQUARE + [0.5, 0.0], SQUARE) == pytest.approx(math.exp(-0.5))
    # A wider sigma or a larger area forgives the same error.
    assert oks(SQUARE + [0.5, 0.0], SQUARE, sigmas=0.05) == pytest.approx(math.exp(-0.125))
    assert oks(SQUARE + [0.5, 0.0], SQUARE, area=400.0) == pytest.approx(math.exp(-0.125))


def test_oks_leaves_out_missing_truth_and_scores_missing_predictions_zero():
    gt = SQUARE.copy()
    gt[0] = np.nan
    pred = SQUARE + [50.0, 0.0]
    pred[0] = SQUARE[0]  # right where the truth has no point: it must not count
    assert oks(pred, gt) < 1e-6
    missing = SQUARE.copy()
    missing[1] = np.nan
    assert oks(missing, SQUARE) == pytest.approx(0.75)


def test_match_instances_pairs_by_oks_whatever_the_order():
    gts = np.stack([SQUARE, SQUARE + [40.0, 0.0], SQUARE + [0.0, 40.0]])
    preds = np.stack([gts[2] + 0.3, gts[0] - 0.2, SQUARE + [200.0, 200.0]])
    match = match_instances_oks(preds, gts)
    assert match.pairs == [(0, 2), (1, 0)]  # the far prediction has nothing to match
    assert match.oks[0] == pytest.approx(oks(preds[0], gts[2]))
    assert (match.oks > 0.5).all()


def test_map_is_one_for_perfect_predictions():
    gts = [np.stack([SQUARE, SQUARE + 30]), np.stack([SQUARE + 5])]
    preds = [_with_score(g, 0.9) for g in gts]
    result = oks_map(preds, gts)
    assert result.map_oks == pytest.approx(1.0)
    assert result.n_gt == 3 and result.n_pred == 3


def test_map_falls_with_a_false_positive_a_missed_animal_or_noisy_points():
    rng = np.random.default_rng(0)
    gts = [np.stack([SQUARE + 30 * i, SQUARE + [0.0, 30 * i + 60]]) for i in range(4)]
    perfect = [_with_score(g, 0.8) for g in gts]
    baseline = oks_map(perfect, gts).map_oks
    assert baseline == pytest.approx(1.0)
    # A confident false positive ranks above the true ones.
    with_fp = [*perfect[:3], np.concatenate([perfect[3], _with_score(SQUARE[None] + 300, 0.99)])]
    missed = [*perfect[:3], perfect[3][:1]]
    noisy = [_with_score(g + rng.normal(0, 0.6, g.shape), 0.8) for g in gts]
    for worse in (with_fp, missed, noisy):
        assert oks_map(worse, gts).map_oks < baseline - 0.05
    assert oks_map(missed, gts).recall.max() == pytest.approx(7 / 8)


def test_map_matches_a_hand_computed_case():
    # Two frames, one animal each. Ranked: TP (0.9), FP (0.8), TP (0.7) at every threshold.
    # Precision (interpolated) is 1 up to recall 0.5 and 2/3 up to recall 1, so over the 101
    # recall points: (51 * 1 + 50 * 2/3) / 101.
    gts = [SQUARE[None], (SQUARE + 50)[None]]
    preds = [
        np.stack([_with_score(SQUARE, 0.9), _with_score(SQUARE + 200, 0.8)]),
        _with_score(SQUARE + 50, 0.7)[None],
    ]
    assert oks_map(preds, gts).map_oks == pytest.approx((51 + 50 * 2 / 3) / 101)


def test_map_counts_a_match_only_at_thresholds_its_oks_reaches():
    # OKS exp(-0.5) = 0.607: a true positive at 0.50, 0.55 and 0.60, a miss at the other 7.
    result = oks_map([_with_score(SQUARE + [0.5, 0.0], 1.0)[None]], [SQUARE[None]])
    assert result.ap == pytest.approx([1.0, 1.0, 1.0] + [0.0] * 7)
    assert result.map_oks == pytest.approx(0.3)


def test_map_scores_come_from_confidences_unless_given():
    gts = [SQUARE[None]]
    good, bad = _with_score(SQUARE, 0.2), _with_score(SQUARE + 100, 0.9)
    ranked_badly = oks_map([np.stack([good, bad])], gts).map_oks
    assert ranked_badly == pytest.approx(oks_map([np.stack([bad, good])], gts).map_oks)
    assert ranked_badly < 1.0
    fixed = oks_map([np.stack([good, bad])], gts, scores=[np.array([0.9, 0.1])])
    assert fixed.map_oks == pytest.approx(1.0)


def test_node_errors_after_matching_shuffled_instances():
    gts = [np.stack([SQUARE, SQUARE + 50])]
    shift = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0], [3.0, 4.0]])
    pred = np.stack([SQUARE + 50 + shift, SQUARE - shift])
    pred[0, 2] = np.nan  # a missing part is no error
    errors = node_errors([pred], gts, sigmas=0.2)
    assert [e.tolist() for e in errors] == [[1.0, 1.0], [2.0, 2.0], [0.0], [5.0, 5.0]]


def test_identity_switches_counts_a_constructed_swap_exactly():
    frames = 50
    gt = np.stack([np.stack([SQUARE + [f, 0.0], SQUARE + [f, 60.0]]) for f in range(frames)])
    pred = gt.copy()
    assert identity_switches(pred, gt).count == 0
    pred[20:] = pred[20:, ::-1]  # the tracker swapped the animals at frame 20
    result = identity_switches(pred, gt)
    assert result.count == 2
    assert sorted(result.events) == [(20, 0, 0, 1), (20, 1, 1, 0)]
    assert result.per_1000_frames == pytest.approx(2 * 1000 / frames)
    pred[35:] = pred[35:, ::-1]  # and back at frame 35
    assert identity_switches(pred, gt).count == 4


def test_identity_switches_ignore_gaps_and_far_predictions():
    gt = np.stack([np.stack([SQUARE + f, SQUARE + f + 60]) for f in range(20)])
    pred = gt.copy()
    pred[5:8, 0] = np.nan  # track 0 loses its animal for 3 frames, then finds it again
    pred[8:12, 1] = SQUARE + 500  # track 1 wanders far off: no match, not a switch
    assert identity_switches(pred, gt).count == 0
    # A third track taking over animal 0 after the gap is a switch.
    third = np.concatenate([pred, np.full((20, 1, 4, 2), np.nan)], axis=1)
    third[8:, 2], third[8:, 0] = third[8:, 0], np.nan
    result = identity_switches(third, gt)
    assert result.events == [(8, 0, 0, 2)]

import numpy as np

from learning.engine.multi.match import match_instances, matched_errors

NAN = np.nan


def test_matching_follows_positions_not_order() -> None:
    gt = np.array([[[0, 0], [10, 0]], [[100, 100], [110, 100]]], float)
    pred = np.concatenate([gt[::-1] + 1.0, np.ones((2, 2, 1))], axis=-1)
    assert sorted(match_instances(pred, gt)) == [(0, 1), (1, 0)]
    assert match_instances(pred, gt, max_distance=1.0) == []


def test_matched_errors_count_misses_and_missing_parts() -> None:
    gt = [np.array([[[0, 0], [10, 0]], [[100, 100], [110, 100]]], float)]
    pred = [np.array([[[3, 4, 0.9], [NAN, NAN, 0.05]]], float)]  # one animal, one part
    figures = matched_errors(pred, gt)
    assert figures["n_gt"] == 2 and figures["n_pred"] == 1 and figures["n_matched"] == 1
    assert figures["recall"] == 0.5 and figures["part_recall"] == 0.5
    assert figures["median_error_px"] == 5.0
    assert np.isnan(matched_errors([np.zeros((0, 2, 3))], gt)["median_error_px"])

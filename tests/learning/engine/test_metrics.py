import numpy as np
import pytest

from learning.engine.metrics import evaluate


def test_hand_computed_example() -> None:
    gt = np.array([[[0.0, 0.0], [10.0, 10.0]], [[5.0, 5.0], [np.nan, np.nan]]])
    pred = np.array([
        [[3.0, 4.0, 0.9], [10.0, 10.0, 0.5]],   # distances 5 and 0
        [[5.0, 6.0, 0.7], [1.0, 1.0, 0.99]],    # distance 1; the second point is unlabeled
    ])
    m = evaluate(pred, gt, pcutoff=0.6, pck_thresholds=(0.5, 2.0, 5.0))
    assert m["n_points"] == 3
    assert m["rmse_px"] == pytest.approx((5 + 0 + 1) / 3)
    assert m["rmse_pcutoff_px"] == pytest.approx((5 + 1) / 2)
    assert m["pck"] == {0.5: pytest.approx(1 / 3), 2.0: pytest.approx(2 / 3), 5.0: 1.0}
    assert m["per_bodypart_rmse_px"] == [pytest.approx(3.0), pytest.approx(0.0)]


def test_nan_predictions_and_empty_bodyparts() -> None:
    gt = np.array([[[0.0, 0.0], [np.nan, np.nan]]])
    pred = np.array([[[np.nan, np.nan, 0.0], [1.0, 1.0, 1.0]]])
    m = evaluate(pred, gt)
    assert m["n_points"] == 0
    assert np.isnan(m["rmse_px"]) and np.isnan(m["per_bodypart_rmse_px"][1])
    assert m["pck"][5.0] == 0.0  # a labeled point without prediction is a miss


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        evaluate(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)))

"""Evaluation costs the same however many labels a project has: the train error is a sample."""

from __future__ import annotations

import numpy as np

from learning.training import evaluation
from learning.training.evaluation import TRAIN_EVAL_MAX, evaluate_model, spread_sample


def test_spread_sample_keeps_all_when_few_and_spreads_when_many():
    assert spread_sample(list(range(5)), 8) == [0, 1, 2, 3, 4]
    picked = spread_sample(list(range(1000)), 10)
    assert len(picked) == 10 and picked[0] == 0 and picked[-1] == 999
    assert np.all(np.diff(picked) > 100)


def test_train_error_is_measured_on_a_bounded_sample_and_the_test_split_whole(monkeypatch):
    seen = []

    def fake_scores(model, cfg, samples):
        seen.append(len(samples))
        return None, None

    monkeypatch.setattr(evaluation, "_scores", fake_scores)

    class Sample:
        present = np.ones(2, bool)

    train, test = [Sample()] * (TRAIN_EVAL_MAX + 40), [Sample()] * 90
    metrics, _ = evaluate_model(None, None, train, test, ["a", "b"])
    assert seen == [TRAIN_EVAL_MAX, 90]
    assert metrics["n_train"] == TRAIN_EVAL_MAX + 40
    assert metrics["n_train_evaluated"] == TRAIN_EVAL_MAX
    assert metrics["n_labeled_points"] == 2 * (TRAIN_EVAL_MAX + 40 + 90)

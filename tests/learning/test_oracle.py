"""Oracle replay: the summary arithmetic, and a tiny real run on openfield."""

import json

import pytest
from django.core.management import call_command

from learning.oracle import infer_flip_pairs, split_test, summarize


def test_flip_pairs_are_inferred_from_names():
    assert infer_flip_pairs(["snout", "leftear", "rightear", "tailbase"]) == ((1, 2),)
    assert infer_flip_pairs(["Hand", "Finger1"]) == ()


def test_test_split_is_fixed_and_disjoint():
    pool, test = split_test(50, 0.2)
    assert len(test) == 10 and not set(pool) & set(test)
    assert split_test(50, 0.2) == (pool, test)


def test_labels_to_random_final_is_the_first_count_reaching_it():
    rows = [
        {"strategy": s, "seed": seed, "n_labels": n, "test_rmse_px": rmse}
        for s, curve in {"random": [(10, 40), (20, 30), (30, 20)],
                         "hybrid": [(10, 40), (20, 19), (30, 15)],
                         "kmeans": [(10, 40), (20, 35), (30, 25)]}.items()
        for seed in (0, 1) for n, rmse in curve
    ]
    out = summarize(rows, ["random", "hybrid", "kmeans"])
    assert out["random"]["final_rmse_px"] == 20 and out["random"]["labels_to_random_final"] == 30
    assert out["hybrid"]["labels_to_random_final"] == 20
    assert out["kmeans"]["labels_to_random_final"] is None
    assert out["hybrid"]["curve"] == [[10, 40], [20, 19], [30, 15]]


@pytest.mark.slow
def test_replay_runs_on_a_tiny_budget(shared_data, tmp_path, capsys):
    call_command("replay_oracle", str(shared_data / "openfield"), "--preset", "tiny",
                 "--out", str(tmp_path))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert result["dataset"] == "openfield" and result["seeds"] == 1
    assert set(result["strategies"]) == {"random", "kmeans", "uncertainty", "hybrid"}
    for strategy in result["strategies"].values():
        assert strategy["final_rmse_px"] > 0 and len(strategy["curve"]) == 2
    assert (tmp_path / "results.csv").read_text().count("\n") == 1 + 4 * 2
    assert (tmp_path / "rmse_vs_labels.png").stat().st_size > 1000

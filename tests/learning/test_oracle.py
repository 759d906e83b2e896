"""Oracle replay: the summary arithmetic, and a tiny real run on openfield."""

import csv
import json

import numpy as np
import pytest
from django.core.management import call_command

from learning.engine.data import PoseSample
from learning.selection.oracle import (
    OracleData,
    ReplayConfig,
    _Replay,
    infer_flip_pairs,
    split_test,
    summarize,
)


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
    assert out["hybrid"]["mean_rmse_px"] == 17 and out["random"]["mean_rmse_px"] == 25
    assert out["hybrid"]["picked_error_ratio"] is None  # rows without the oracle's errors


def test_picked_error_ratio_compares_picked_frames_with_the_pool():
    rows = [{"strategy": "uncertainty", "seed": 0, "n_labels": 10, "test_rmse_px": 9.0},
            {"strategy": "uncertainty", "seed": 0, "n_labels": 20, "test_rmse_px": 5.0,
             "picked_err_px": 12.0, "pool_err_px": 6.0},
            {"strategy": "uncertainty", "seed": 0, "n_labels": 30, "test_rmse_px": 4.0,
             "picked_err_px": 4.0, "pool_err_px": 4.0},
            {"strategy": "random", "seed": 0, "n_labels": 10, "test_rmse_px": 9.0},
            {"strategy": "random", "seed": 0, "n_labels": 20, "test_rmse_px": 6.0,
             "picked_err_px": float("nan"), "pool_err_px": 6.0}]  # no visible point picked
    out = summarize(rows, ["random", "uncertainty"])
    assert out["uncertainty"]["picked_error_ratio"] == 1.5  # median of 2.0 and 1.0
    assert out["random"]["picked_error_ratio"] is None


def _replay_state(**config):
    samples = [PoseSample.from_keypoints(f"f{i}.png", np.zeros((2, 2))) for i in range(30)]
    data = OracleData("toy", [s.image_path for s in samples], samples, ["a", "b"], [(0, 1)], ())
    return _Replay(data, ReplayConfig(**config), "/nonexistent", lambda line: None)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_selection_does_not_replay_the_initial_draw(monkeypatch, seed):
    """Random selection draws from a stream of its own. It once used the initial draw's stream
    again (`default_rng([seed, 0])` is `default_rng(seed)`), so round 1 took the neighbours of
    the initial frames in the pool, near-copies in a video (training is stubbed out here)."""
    samples = [PoseSample.from_keypoints(f"f{i:03d}.png", np.zeros((2, 2))) for i in range(400)]
    data = OracleData("toy", [s.image_path for s in samples], samples, ["a", "b"], [(0, 1)], ())
    state = _Replay(data, ReplayConfig(strategies=("random",), initial=4, batch=4, rounds=2),
                    "/nonexistent", lambda line: None)
    monkeypatch.setattr(_Replay, "fit", lambda self, *args, **kw: (None, None, 0.0))
    monkeypatch.setattr(_Replay, "test_rmse", lambda self, model: 1.0)
    monkeypatch.setattr(_Replay, "frame_errors",
                        lambda self, model, rows: np.ones(len(rows)))
    state.run_seed(seed)
    position = {name: i for i, name in enumerate(data.names[r] for r in state.pool)}
    picked = {row["round"]: [position[n] for n in row["picked"].split(";")]
              for row in state.rows}
    assert len(picked[1]) == 4 and not set(picked[0]) & set(picked[1])
    near = [p for p in picked[1] if min(abs(p - q) for q in picked[0]) <= 4]
    assert len(near) < 4, f"round 1 took the initial frames' neighbours: {picked}"


def test_step_budget_becomes_whole_epochs():
    state = _replay_state(steps_per_round=100, initial_steps=400)
    # 20 labels in batches of 8 (last one dropped): 2 steps an epoch
    assert state.train_cfg(0, 20, 100).max_epochs == 50
    assert state.train_cfg(0, 5, 400).max_epochs == 400  # fewer labels than a batch: 1 step
    assert state.train_cfg(0, 20, None).max_minutes == 1.0  # no step budget: the time budget


def test_initial_steps_needs_a_step_budget():
    with pytest.raises(ValueError, match="initial_steps"):
        ReplayConfig(initial_steps=100)
    with pytest.raises(ValueError, match="initial_steps"):
        ReplayConfig(steps_per_round=10, initial_steps=0)


@pytest.mark.slow
def test_replay_runs_on_a_tiny_budget(shared_data, tmp_path, capsys):
    call_command("replay_oracle", str(shared_data / "openfield"), "--preset", "tiny",
                 "--initial-steps", "12", "--out", str(tmp_path))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert result["dataset"] == "openfield" and result["seeds"] == 1
    assert set(result["strategies"]) == {"random", "kmeans", "uncertainty", "hybrid"}
    for strategy in result["strategies"].values():
        assert strategy["final_rmse_px"] > 0 and len(strategy["curve"]) == 2
    assert (tmp_path / "results.csv").read_text().count("\n") == 1 + 4 * 2
    with (tmp_path / "results.csv").open() as fh:
        selected = [row for row in csv.DictReader(fh) if row["round"] == "1"]
    # the oracle measured the selecting model's error on the pool and on each strategy's picks
    assert len(selected) == 4
    assert all(float(row["pool_err_px"]) > 0 and float(row["picked_err_px"]) > 0
               for row in selected)
    assert (tmp_path / "rmse_vs_labels.png").stat().st_size > 1000


def test_an_interrupted_run_is_summarised_from_its_complete_seeds(tmp_path, capsys):
    def row(strategy, seed, rnd, rmse):
        return {"dataset": "toy", "strategy": strategy, "seed": seed, "round": rnd,
                "n_labels": 10 * (rnd + 1), "test_rmse_px": rmse, "train_s": 1.0,
                "select_s": 0.0, "picked": ""}

    rows = [row("random", 0, 0, 30), row("random", 0, 1, 20), row("hybrid", 0, 0, 30),
            row("hybrid", 0, 1, 10),
            row("random", 1, 0, 50), row("random", 1, 1, 40), row("hybrid", 1, 0, 50)]  # cut
    (tmp_path / "results.partial.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n")
    call_command("replay_oracle", "--from-partial", "--out", str(tmp_path))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["seeds"] == 1  # seed 1 did not finish hybrid: left out
    assert result["strategies"]["random"]["final_rmse_px"] == 20
    assert result["strategies"]["hybrid"]["labels_to_random_final"] == 20
    assert (tmp_path / "rmse_vs_labels.png").stat().st_size > 1000
    assert (tmp_path / "results.csv").read_text().count("\n") == 1 + 4


def test_summarising_needs_a_partial_file_with_a_complete_seed(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nothing to summarise"):
        call_command("replay_oracle", "--from-partial", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="project_dir is required"):
        call_command("replay_oracle", "--out", str(tmp_path))


@pytest.mark.parametrize(("warm_start", "expected"), [
    ("previous", [None, "s0-r0", "s0-random-r1"]),
    ("round0", [None, "s0-r0", "s0-r0"]),
    ("none", [None, None, None]),
])
def test_warm_start_decides_where_each_round_trains_from(monkeypatch, warm_start, expected):
    state = _replay_state(strategies=("random",), initial=4, batch=4, rounds=2,
                          steps_per_round=10, warm_start=warm_start)
    inits: list[str | None] = []

    def fake_fit(labeled, seed, init, tag, steps=None):
        inits.append(init)
        return object(), tag, 0.0

    monkeypatch.setattr(state, "fit", fake_fit)
    monkeypatch.setattr(state, "test_rmse", lambda model: 1.0)
    monkeypatch.setattr(state, "frame_errors", lambda model, rows: np.arange(len(rows)) + 1.0)
    state.run_seed(0)
    assert inits == expected
    assert [row["n_labels"] for row in state.rows] == [4, 8, 12]


def test_first_seed_chooses_which_seeds_run(monkeypatch, tmp_path):
    import learning.selection.oracle as oracle

    data = _replay_state().data
    ran: list[int] = []
    monkeypatch.setattr(oracle, "load_oracle_data", lambda path: data)
    monkeypatch.setattr(oracle._Replay, "run_seed", lambda self, seed: ran.append(seed))
    monkeypatch.setattr(oracle, "summarize", lambda rows, strategies: {})
    monkeypatch.setattr(oracle, "write_outputs",
                        lambda rows, summary, out, title: (out / "r.csv", out / "r.png"))
    oracle.replay("unused", ReplayConfig(seeds=2, first_seed=3), tmp_path)
    assert ran == [3, 4]
    with pytest.raises(ValueError, match="first_seed"):
        ReplayConfig(first_seed=-1)


def test_unknown_warm_start_is_refused():
    with pytest.raises(ValueError, match="warm_start"):
        ReplayConfig(warm_start="yesterday")


def test_replay_trains_where_the_device_option_says():
    """Rounds train on CUDA when present ("auto", the default), or where --device says."""
    assert _replay_state().train_cfg(0, 20, None).device == "auto"
    assert _replay_state(device="cpu").train_cfg(0, 20, None).device == "cpu"
    with pytest.raises(ValueError, match="device"):
        ReplayConfig(device="tpu")


def test_a_replay_with_the_temporal_loss_trains_on_the_videos_frame_pairs(shared_data, tmp_path,
                                                                           capsys, monkeypatch):
    from learning.engine import train as engine_train

    seen = []
    real = engine_train._temporal_term

    def spy(model, batch, *args):
        seen.append(tuple(batch["a"].shape))
        return real(model, batch, *args)

    monkeypatch.setattr(engine_train, "_temporal_term", spy)
    call_command("replay_oracle", str(shared_data / "openfield"), "--preset", "tiny",
                 "--strategies", "random", "--temporal-weight", "0.1", "--temporal-pool", "6",
                 "--out", str(tmp_path))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["strategies"]["random"]["final_rmse_px"] > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["temporal_weight"] == 0.1
    assert seen and all(shape[0] == 2 and shape[1] == 3 for shape in seen)  # 2 pairs a step


def test_the_temporal_loss_needs_a_video(shared_data, tmp_path):
    from django.core.management.base import CommandError

    project = tmp_path / "project"  # openfield without its video
    (project / "videos").mkdir(parents=True)
    for name in ("config.yaml", "labeled-data"):
        (project / name).symlink_to(shared_data / "openfield" / name)
    with pytest.raises(CommandError, match="temporal_weight needs a video"):
        call_command("replay_oracle", str(project), "--preset", "tiny", "--temporal-weight",
                     "0.1", "--out", str(tmp_path / "out"))
    with pytest.raises(CommandError, match="temporal_video: no such file"):
        call_command("replay_oracle", str(project), "--temporal-weight", "0.1",
                     "--temporal-video", str(tmp_path / "missing.mp4"), "--out", str(tmp_path))

"""Multi-animal oracle replay: the oracle, the test split, the pickers, and a tiny real run on a
synthetic two-animal video written as SLEAP predictions."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio
from django.core.management import call_command

from learning.engine.multi.acquisition import MULTI_WEIGHTS
from learning.formats.sleap import SlpContents, SlpFrame, SlpInstance
from learning.selection.oracle_multi import (
    MultiReplayConfig,
    _MultiReplay,
    load_slp_data,
    oracle_instances,
    spaced_in_time,
    split_test,
    summarize,
)
from videos.synthetic_multi import generate_video

N_FRAMES = 60
CROWDED = (10, 40)  # frames given a third, false detection: left out of pool and test
GUARD = 2


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A 60-frame two-animal clip and its .slp of predicted instances (no user instance, as
    flies-pair), with a low-scored false detection on the CROWDED frames."""
    folder = tmp_path_factory.mktemp("oracle-multi")
    clip = generate_video(folder / "pair.mp4", n_animals=2, n_frames=N_FRAMES, width=160,
                          height=160)
    skeleton = sio.Skeleton(list(clip.bodyparts), edges=[list(e) for e in clip.skeleton])
    video = sio.Video(filename="/elsewhere/pair.mp4", open_backend=False)
    tracks = [sio.Track("A"), sio.Track("B")]
    frames = []
    for f in range(N_FRAMES):
        instances = [sio.PredictedInstance.from_numpy(
            clip.keypoints[f, n], skeleton=skeleton, point_scores=np.full(len(clip.bodyparts),
                                                                          0.9),
            score=10.0 - n, track=tracks[n])
            for n in range(2) if np.isfinite(clip.keypoints[f, n]).any()]
        if f in CROWDED:
            instances.append(sio.PredictedInstance.from_numpy(
                clip.keypoints[f, 0] + 30.0, skeleton=skeleton,
                point_scores=np.full(len(clip.bodyparts), 0.2), score=0.5))
        frames.append(sio.LabeledFrame(video=video, frame_idx=f, instances=instances))
    path = folder / "pair.slp"
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton],
                            tracks=tracks), str(path), verbose=False)
    return clip, path


def _instance(x: float, *, predicted: bool, score: float | None = None) -> SlpInstance:
    points = np.array([[x, 1.0], [x + 1, 2.0]])
    return SlpInstance(points, np.ones(2) if predicted else None, score, "", predicted)


def test_oracle_is_user_instances_else_predicted_by_score():
    contents = SlpContents(["a", "b"], [], [], ["v.mp4"], [])
    mixed = SlpFrame(0, 0, [_instance(1, predicted=True, score=9.0),
                            _instance(2, predicted=False)])
    assert oracle_instances(contents, mixed)[:, 0, 0].tolist() == [2.0]
    predicted = SlpFrame(0, 1, [_instance(1, predicted=True, score=1.0),
                                _instance(2, predicted=True, score=5.0)])
    assert oracle_instances(contents, predicted)[:, 0, 0].tolist() == [2.0, 1.0]
    assert oracle_instances(contents, SlpFrame(0, 2, [])).shape == (0, 2, 2)


def test_test_frames_spread_over_the_end_and_pool_keeps_away_from_them():
    frames = list(range(200))
    counts = [1 if f in (170, 171) else 2 for f in frames]
    pool, test = split_test(frames, counts, 2, n_test=10, test_part=0.4, guard=GUARD)
    tested = np.array([frames[r] for r in test])
    assert len(test) == 10 and tested.min() >= 120 and tested.max() >= 190
    assert np.diff(tested).min() >= 5  # spread, not a block
    assert all(counts[r] == 2 for r in test)  # a frame with a missed animal is never a test one
    assert not set(pool) & set(test)
    assert min(abs(frames[p] - t) for p in pool for t in tested) > GUARD
    near = {t + d for t in tested for d in range(-GUARD, GUARD + 1)}
    assert [frames[r] for r in pool] == [f for f in frames if f not in near]  # all the rest
    assert split_test(frames, counts, 2, 10, 0.4, GUARD) == (pool, test)


def test_uniform_picks_are_spread_in_time():
    candidates = list(range(0, 101))
    spots = spaced_in_time(candidates, [0], 3)
    assert [candidates[s] for s in spots] == [100, 50, 25]
    assert spaced_in_time([5, 6], [], 5) == [1, 0]  # no more than there are


def test_summary_counts_labels_to_reach():
    rows = [{"strategy": s, "seed": seed, "round": r, "n_labels": 10 + 10 * r,
             "test_map_oks": m, "median_error_px": 5.0 - r, "picked_score": float("nan"),
             "pool_score": float("nan")}
            for s, curve in {"random": [0.2, 0.4, 0.6], "active": [0.2, 0.65, 0.75]}.items()
            for seed in (0, 1) for r, m in enumerate(curve)]
    out = summarize(rows, ["random", "active"], reach=(0.5, 0.7, 0.9))
    assert out["random"]["final_map_oks"] == 0.6
    assert out["active"]["labels_to_random_final"] == 20
    assert out["random"]["labels_to_random_final"] == 30
    assert out["active"]["labels_to_reach"] == {"0.5": 20, "0.7": 30, "0.9": None}
    assert out["active"]["rounds"][1] == {"round": 1, "n_labels": 20, "map_oks": 0.65,
                                          "map_sd": 0.0, "median_error_px": 4.0}


class _MissingOne:
    """Predicts the oracle's animals, except one animal is missed on the `missed` frames."""

    def __init__(self, truth: dict[int, np.ndarray], missed: set[int], rows_by_image: dict):
        self.truth, self.missed, self.rows_by_image = truth, missed, rows_by_image

    def predict(self, images):
        out = []
        for image in images:
            row = self.rows_by_image[image.tobytes()]
            animals = self.truth[row]
            animals = animals[:1] if row in self.missed else animals
            out.append(np.concatenate([animals, np.full((*animals.shape[:2], 1), 0.9)],
                                      axis=-1))
        return out


def test_active_picks_the_frames_the_scores_rank_high(pair, tmp_path):
    _, slp = pair
    data = load_slp_data(slp, tmp_path / "cache")
    # only the missed-animal score counts: the frames where an animal is missed rank highest
    cfg = MultiReplayConfig(batch=1, n_test=6, weights={"confidence": 0, "touching": 0,
                                                          "assignment": 0, "coverage": 0})
    state = _MultiReplay(data, cfg, str(tmp_path), log=lambda m: None)
    # the candidates: frames where both animals are in view, so only the predictor misses one
    labeled = state.pool[:2]
    unlabeled = [r for r in state.pool[2:] if len(data.samples[r].animals) == 2]
    missed = {unlabeled[3], unlabeled[len(unlabeled) // 2], unlabeled[-2]}
    truth = {r: data.samples[r].animals for r in range(len(data.samples))}
    images = {state.image(r).tobytes(): r for r in unlabeled + labeled}
    predictor = _MissingOne(truth, missed, images)
    scores = state.active_scores(predictor, labeled, unlabeled)
    top = {unlabeled[i] for i in np.argsort(-scores)[:len(missed)]}
    assert top == missed and scores.min() < scores.max()
    # batch 1: the shortlist is the 3 best-scored frames, the pick one of them
    picked, (picked_score, pool_score) = state.select("active", predictor, labeled, unlabeled,
                                                      np.random.default_rng(0))
    assert len(picked) == 1 and picked[0] in missed
    assert picked_score == scores.max() > pool_score
    # the platform's weights: the picks still come from the best-scored third of the pool
    state.weights = dict(MULTI_WEIGHTS)
    state.cfg = MultiReplayConfig(batch=4, n_test=6)
    scores = state.active_scores(predictor, labeled, unlabeled)
    picked, _ = state.select("active", predictor, labeled, unlabeled, np.random.default_rng(0))
    shortlist = {unlabeled[i] for i in np.argsort(-scores, kind="stable")[:12]}
    assert len(picked) == 4 and set(picked) <= shortlist


def test_load_leaves_out_crowded_frames_and_caches_frames(pair, tmp_path):
    clip, slp = pair
    data = load_slp_data(slp, tmp_path / "cache")
    assert data.expected == 2 and data.left_out == len(CROWDED)
    assert not set(CROWDED) & set(data.frame_indices)
    row = data.frame_indices.index(20)
    np.testing.assert_allclose(data.samples[row].animals, clip.keypoints[20], atol=1e-4)
    cached = sorted((tmp_path / "cache").rglob("*.png"))
    assert len(cached) == N_FRAMES
    stamp = cached[0].stat().st_mtime_ns
    load_slp_data(slp, tmp_path / "cache")
    assert cached[0].stat().st_mtime_ns == stamp  # decoded once, reused


@pytest.mark.slow
def test_tiny_replay_writes_outputs_and_keeps_test_frames_out(pair, tmp_path):
    _, slp = pair
    out = tmp_path / "out"
    stdout = StringIO()
    call_command("replay_oracle", str(slp), "--out", str(out), "--preset", "tiny",
                 "--rounds", "2", "--initial", "4", "--batch", "4", "--test-frames", "6",
                 "--threads", "1", "--device", "cpu", stdout=stdout)
    last = json.loads(stdout.getvalue().strip().splitlines()[-1])
    assert set(last["strategies"]) == {"random", "uniform", "active"}
    assert last["expected_animals"] == 2 and last["n_test"] == 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == summary["config"]["device"] == "cpu"
    assert (out / "map_vs_labels.png").stat().st_size > 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 3 * 3  # three strategies, rounds 0..2
    initial = {r["picked"] for r in rows if r["round"] == "0"}
    assert len(initial) == 1  # every strategy starts from the same frames
    test = summary["test_frames"]
    for strategy in ("random", "uniform", "active"):
        mine = [r for r in rows if r["strategy"] == strategy]
        assert [int(r["n_labels"]) for r in mine] == [4, 8, 12]
        picked = [int(f) for r in mine for f in r["picked"].split(";")]
        assert len(set(picked)) == 12  # never the same frame twice
        assert min(abs(p - t) for p in picked for t in test) > GUARD
        assert not set(picked) & set(CROWDED)
        rounds = summary["strategies"][strategy]["rounds"]
        assert [p["n_labels"] for p in rounds] == [4, 8, 12]
        assert all(0.0 <= p["map_oks"] <= 1.0 for p in rounds)
    active = [r for r in rows if r["strategy"] == "active" and r["round"] != "0"]
    assert all(np.isfinite(float(r["picked_score"])) for r in active)
    assert all(np.isnan(float(r["picked_score"])) for r in rows if r["strategy"] == "random")
    assert set(summary["strategies"]["active"]["labels_to_reach"]) == {"0.5", "0.7", "0.8"}
    partial = Path(out / "results.partial.jsonl").read_text().splitlines()
    assert len(partial) == len(rows)
    again = StringIO()
    call_command("replay_oracle", "--from-partial", "--out", str(out), stdout=again)
    resumed = json.loads(again.getvalue().strip().splitlines()[-1])
    assert resumed["strategies"] == last["strategies"]


def test_options_of_the_other_replays_are_refused_for_a_slp_file(pair, tmp_path):
    from django.core.management.base import CommandError

    _, slp = pair
    with pytest.raises(CommandError, match="--warm-start"):
        call_command("replay_oracle", str(slp), "--out", str(tmp_path), "--warm-start", "none")
    with pytest.raises(CommandError, match="strategies must be among"):
        call_command("replay_oracle", str(slp), "--out", str(tmp_path), "--strategies", "kmeans")


def test_a_multi_replay_refuses_an_unknown_device():
    with pytest.raises(ValueError, match="device"):
        MultiReplayConfig(device="tpu")
    assert MultiReplayConfig().device == "auto"  # CUDA when present

"""Linking instances into tracks: identities kept through noise, misses, crossings, exits."""

from __future__ import annotations

import numpy as np
import pytest

from learning.engine.multi.metrics import identity_switches
from learning.engine.multi.tracking import TrackerConfig, TrackResult, apply_swaps, track
from videos.synthetic_multi import simulate

BLOB = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])  # four parts, no heading


def _detections(
    truth: np.ndarray, *, noise: float, missed: set[tuple[int, int]], seed: int = 0
) -> tuple[list[np.ndarray], list[list[int]]]:
    """Shuffled noisy instances (n, K, 3) per frame from truth (F, N, K, 2), and who is who."""
    rng = np.random.default_rng(seed)
    frames, who = [], []
    for f, animals in enumerate(truth):
        ids = [n for n in range(len(animals))
               if np.isfinite(animals[n]).any() and (f, n) not in missed]
        ids = [ids[i] for i in rng.permutation(len(ids))]
        points = animals[ids] + rng.normal(0.0, noise, animals[ids].shape)
        frames.append(np.concatenate([points, np.ones((*points.shape[:2], 1))], axis=-1))
        who.append(ids)
    return frames, who


def _track_of_animal(result: TrackResult, who: list[list[int]]) -> dict[int, set[int]]:
    """The tracks each true animal's instances went to."""
    tracks: dict[int, set[int]] = {}
    for ids, owners in zip(who, result.instance_tracks, strict=True):
        for n, t in zip(ids, owners, strict=True):
            tracks.setdefault(n, set()).add(int(t))
    return tracks


def _crossing(frames: int = 30, speed: float = 6.0, offset: float = 1.0) -> np.ndarray:
    """(F, 2, 4, 2) two alike animals walking head-on along nearly the same line.

    They meet between frames 14 and 15; `offset` px apart sideways, far less than a step.
    """
    t = np.arange(frames, dtype=np.float64) - 14.5
    a = np.stack([100 + speed * t, np.full(frames, 50.0)], axis=-1)
    b = np.stack([100 - speed * t, np.full(frames, 50.0 + offset)], axis=-1)
    return np.stack([a, b], axis=1)[:, :, None, :] + BLOB[None, None]


@pytest.mark.parametrize("cost", ["distance", "oks"])
def test_identities_kept_on_synthetic_truth_with_noise_and_missed_frames(cost):
    truth = simulate(n_animals=3)
    crossing = truth.event("crossing")
    missed = {(crossing.start + 5, 0), (60, 2), (61, 2)}
    frames, who = _detections(truth.keypoints, noise=1.0, missed=missed)
    result = track(frames, TrackerConfig(max_tracks=3, cost=cost))
    assert result.poses.shape == (truth.frame_count, 3, 5, 3)
    # Every instance kept, each animal in one track only (animal 1 leaves the frame for
    # longer than max_lost and takes its own track back when it returns).
    tracks = _track_of_animal(result, who)
    assert all(len(t) == 1 and -1 not in t for t in tracks.values())
    assert len(set().union(*tracks.values())) == 3
    assert identity_switches(result.poses, truth.keypoints).count == 0
    track_of_0 = next(iter(tracks[0]))
    assert np.isnan(result.poses[crossing.start + 5, track_of_0]).all()
    assert np.isnan(result.confidence[crossing.start + 5, track_of_0])


def test_constant_velocity_predicts_through_a_crossing_with_a_miss():
    truth = _crossing()
    frames, who = _detections(truth, noise=0.3, missed={(15, 0)}, seed=1)
    result = track(frames, TrackerConfig(max_tracks=2))
    assert all(len(t) == 1 for t in _track_of_animal(result, who).values())
    assert identity_switches(result.poses, truth).count == 0
    # Without a motion model (the last position only) the same frames swap the animals.
    still = track(frames, TrackerConfig(max_tracks=2, window=1))
    assert identity_switches(still.poses, truth).count > 0


def test_confidence_drops_where_the_other_animal_is_almost_as_cheap():
    def walk(gap: float) -> np.ndarray:
        t = np.arange(20, dtype=np.float64)
        a = np.stack([20 + 3 * t, np.full(20, 50.0)], axis=-1)
        b = a + [0.0, gap]
        return np.stack([a, b], axis=1)[:, :, None, :] + BLOB[None, None]

    def confidence(gap: float) -> float:
        frames, _ = _detections(walk(gap), noise=0.5, missed=set(), seed=3)
        return float(np.median(track(frames, TrackerConfig(max_tracks=2)).confidence[5:]))

    # Near-indistinguishable animals are a coin flip; far apart ones are certain.
    assert confidence(1.0) < 0.6 < confidence(4.0) < confidence(30.0)
    assert confidence(30.0) > 0.95


def test_a_returning_animal_starts_a_new_track_without_max_tracks():
    truth = simulate(n_animals=2)
    frames, who = _detections(truth.keypoints, noise=0.5, missed=set())
    limited = _track_of_animal(track(frames, TrackerConfig(max_tracks=2)), who)
    assert [len(t) for t in limited.values()] == [1, 1] and limited[0] != limited[1]
    unlimited = track(frames, TrackerConfig(max_lost=5))
    assert len(unlimited.track_names) == 3
    assert len(_track_of_animal(unlimited, who)[1]) == 2


def test_max_cost_starts_new_tracks_or_drops_when_all_are_taken():
    still = [np.array([BLOB + 10, BLOB + 100])] * 3
    jump = still + [np.array([BLOB + 10, BLOB + [100.0, 160.0]])]
    gated = track(jump, TrackerConfig(max_cost=20.0))
    assert gated.track_names == ["track_0", "track_1", "track_2"]
    assert gated.instance_tracks[3].tolist() == [0, 2]
    full = track(jump, TrackerConfig(max_cost=20.0, max_tracks=2))
    assert full.instance_tracks[3].tolist() == [0, -1]
    assert np.isnan(full.poses[3, 1]).all()
    ungated = track(jump, TrackerConfig(max_tracks=2))
    assert ungated.instance_tracks[3].tolist() == [0, 1]


def test_confidence_is_in_unit_range_and_carries_the_instance_score():
    frames = [
        np.concatenate([np.stack([BLOB + 10 + f, BLOB + 80]), np.full((2, 4, 1), s)], axis=-1)
        for f, s in enumerate([0.9, 0.9, 0.4, 0.9])
    ]
    result = track(frames, TrackerConfig(max_tracks=2))
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    assert result.confidence[2].max() <= 0.4
    assert result.confidence[3].min() > 0.8
    assert np.array_equal(result.poses[2, :, :, 2], np.full((2, 4), 0.4))


def test_empty_frames_and_two_column_instances():
    frames = [np.zeros((0, 4, 2)), BLOB[None], np.zeros((0, 4, 3)), (BLOB + 1)[None]]
    result = track(frames)
    assert result.poses.shape == (4, 1, 4, 3)
    assert np.isnan(result.poses[[0, 2]]).all()
    assert result.poses[3, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert track([], n_keypoints=4).poses.shape == (0, 0, 4, 3)


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="max_tracks"):
        TrackerConfig(max_tracks=0)
    with pytest.raises(ValueError, match="cost"):
        TrackerConfig(cost="iou")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        TrackerConfig(window=0)


def test_apply_swaps_from_the_right_frame_in_order():
    frames, tracks = 10, 3
    poses = np.arange(frames * tracks * 2 * 3, dtype=np.float64).reshape(frames, tracks, 2, 3)
    confidence = np.arange(frames * tracks, dtype=np.float64).reshape(frames, tracks) / 100
    new_poses, new_conf = apply_swaps(poses, confidence, [(4, 0, 1), (7, 1, 2)])
    assert np.array_equal(new_poses[:4], poses[:4]) and np.array_equal(new_conf[:4], confidence[:4])
    assert np.array_equal(new_poses[4:7], poses[4:7][:, [1, 0, 2]])
    # From frame 7, slot 1 (holding track 0's animal since frame 4) trades with slot 2.
    assert np.array_equal(new_poses[7:], poses[7:][:, [1, 2, 0]])
    assert np.array_equal(new_conf[7:], confidence[7:][:, [1, 2, 0]])
    assert new_poses is not poses and poses[5, 0, 0, 0] == 5 * 18  # inputs untouched
    again, _ = apply_swaps(new_poses, new_conf, [(7, 1, 2), (4, 0, 1)])
    assert np.array_equal(again, poses)


def test_apply_swaps_refuses_frames_and_tracks_out_of_range():
    poses, conf = np.zeros((5, 2, 3, 3)), np.zeros((5, 2))
    with pytest.raises(ValueError, match="frame"):
        apply_swaps(poses, conf, [(5, 0, 1)])
    with pytest.raises(ValueError, match="tracks"):
        apply_swaps(poses, conf, [(1, 0, 2)])


def test_a_swap_fixes_a_tracker_swap():
    truth = _crossing()
    frames, _ = _detections(truth, noise=0.3, missed=set(), seed=2)
    result = track(frames, TrackerConfig(max_tracks=2, window=1))
    switches = identity_switches(result.poses, truth)
    assert switches.count == 2
    frame = switches.events[0][0]
    fixed, _ = apply_swaps(result.poses, result.confidence, [(frame, 0, 1)])
    assert identity_switches(fixed, truth).count == 0

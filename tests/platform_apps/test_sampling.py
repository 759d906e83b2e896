"""Frame picking strategies and frame-accurate extraction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.videofactory import decode_all, make_scene_video, make_video, scene_kind
from videos.sampling import (
    FrameReadError,
    consecutive_pairs,
    extract_frames,
    frame_filename,
    iter_frames,
    pick_kmeans,
    pick_random,
    pick_uniform,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("sampling"), n_frames=90, seed=4)


@pytest.fixture(scope="module")
def clip_frames(clip):
    return decode_all(clip.path)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return make_scene_video(tmp_path_factory.mktemp("scenes"))


def test_iter_frames_matches_one_by_one_decoding(clip, clip_frames):
    wanted = [0, 1, 2, 13, 14, 40, 77, 89]
    got = list(iter_frames(clip.path, wanted))
    assert [index for index, _ in got] == wanted
    for index, frame in got:
        assert np.array_equal(frame, clip_frames[index])


def test_iter_frames_all_and_step(clip, clip_frames):
    assert len(list(iter_frames(clip.path))) == 90
    stepped = list(iter_frames(clip.path, step=7))
    assert [index for index, _ in stepped] == list(range(0, 90, 7))
    assert all(np.array_equal(frame, clip_frames[i]) for i, frame in stepped)


def test_iter_frames_refuses_unsorted_and_duplicates(clip):
    with pytest.raises(ValueError, match="increasing"):
        list(iter_frames(clip.path, [5, 3]))
    with pytest.raises(ValueError, match="increasing"):
        list(iter_frames(clip.path, [5, 5]))
    with pytest.raises(ValueError, match="not both"):
        list(iter_frames(clip.path, [1], step=2))


def test_iter_frames_past_the_end_raises(clip):
    with pytest.raises(FrameReadError, match="ended after 90 frames"):
        list(iter_frames(clip.path, [10, 90]))


def test_iter_frames_unreadable_file_raises(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    with pytest.raises(FrameReadError, match="cannot open"):
        list(iter_frames(bad, [0]))


def test_pick_uniform_spreads_evenly():
    assert pick_uniform(100, 4) == [12, 37, 62, 87]
    assert pick_uniform(5, 10) == [0, 1, 2, 3, 4]
    assert pick_uniform(10, 0) == []
    assert pick_uniform(0, 3) == []


def _check_picks(picks: list[int], frame_count: int, n: int, exclude: set[int]) -> None:
    assert picks == sorted(set(picks))
    assert len(picks) <= n
    assert all(0 <= i < frame_count and i not in exclude for i in picks)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_picks_skip_excluded_frames_and_never_repeat(seed):
    exclude = {0, 12, 37, 62, 87, 50, 51, 52}
    for picks in (pick_uniform(100, 10, exclude), pick_random(100, 10, seed, exclude)):
        _check_picks(picks, 100, 10, exclude)
        assert len(picks) == 10


def test_reruns_with_exclude_add_new_frames_until_exhausted():
    taken: set[int] = set()
    for _ in range(5):
        new = pick_uniform(20, 6, exclude=taken)
        assert not taken & set(new)
        taken |= set(new)
    assert taken == set(range(20))
    assert pick_random(20, 3, seed=0, exclude=taken) == []


def test_pick_random_is_seeded():
    assert pick_random(1000, 5, seed=7) == pick_random(1000, 5, seed=7)
    assert pick_random(1000, 5, seed=7) != pick_random(1000, 5, seed=8)
    assert pick_random(4, 9, seed=0, exclude=[2]) == [0, 1, 3]


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        pick_uniform(10, -1)


def test_kmeans_finds_every_scene_where_uniform_does_not(scenes):
    kinds = scene_kind(scenes)
    kmeans = pick_kmeans(scenes.path, scenes.frame_count, 3, seed=0)
    uniform = pick_uniform(scenes.frame_count, 3)
    assert len(kmeans) == 3
    assert sorted(kinds[kmeans].tolist()) == [0, 1, 2]
    assert len(set(kinds[uniform].tolist())) < 3


def test_kmeans_respects_exclude_and_candidate_cap(scenes):
    kinds = scene_kind(scenes)
    exclude = set(range(60, 70)) | set(range(135, 145))
    picks = pick_kmeans(
        scenes.path, scenes.frame_count, 3, seed=1, exclude=exclude, max_candidates=40
    )
    _check_picks(picks, scenes.frame_count, 3, exclude)
    assert sorted(kinds[picks].tolist()) == [0, 1, 2]


def test_kmeans_on_near_identical_frames_still_returns_n(tmp_path):
    still = tmp_path / "still.mp4"
    writer = cv2.VideoWriter(str(still), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (64, 48))
    for _ in range(30):
        writer.write(np.full((48, 64, 3), 90, np.uint8))
    writer.release()
    picks = pick_kmeans(still, 30, 5, seed=0)
    _check_picks(picks, 30, 5, set())
    assert len(picks) == 5


def test_kmeans_with_fewer_candidates_than_requested(clip):
    picks = pick_kmeans(clip.path, 90, 50, seed=0, max_candidates=10)
    _check_picks(picks, 90, 50, set())
    assert len(picks) == 50


def test_kmeans_small_requests(clip):
    assert pick_kmeans(clip.path, 90, 0, seed=0) == []
    assert pick_kmeans(clip.path, 90, 200, seed=0, exclude=range(5, 90)) == [0, 1, 2, 3, 4]


def test_extract_frames_writes_named_pngs_with_progress(clip, clip_frames, tmp_path):
    calls = []
    paths = extract_frames(
        clip.path,
        [40, 3, 40, 88],
        tmp_path / "out",
        progress=lambda done, total: calls.append((done, total)),
    )
    assert [p.name for p in paths] == [frame_filename(i) for i in (3, 40, 88)]
    assert frame_filename(3) == "img0000003.png"
    for path, index in zip(paths, (3, 40, 88), strict=True):
        assert np.array_equal(cv2.imread(str(path)), clip_frames[index])
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert not list((tmp_path / "out").glob("*.part"))


def test_extract_frames_to_a_callback(clip, clip_frames):
    seen = {}
    assert extract_frames(clip.path, [7, 2], lambda i, frame: seen.__setitem__(i, frame)) == []
    assert sorted(seen) == [2, 7]
    assert np.array_equal(seen[7], clip_frames[7])


def test_consecutive_pairs_are_frames_t_and_t_plus_one_sharing_none(clip, clip_frames):
    pairs = consecutive_pairs(clip.path, 10, seed=3)
    assert len(pairs) == 10
    rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in clip_frames]
    starts = []
    for a, b in pairs:
        t = next(i for i, f in enumerate(rgb[:-1]) if np.array_equal(f, a))
        assert np.array_equal(rgb[t + 1], b)
        starts.append(t)
    assert len(set(starts)) == 10 and all(abs(x - y) >= 2 for x in starts for y in starts
                                           if x != y)
    assert [a.sum() for a, _ in consecutive_pairs(clip.path, 10, seed=3)] == [
        a.sum() for a, _ in pairs]  # seeded
    assert len(consecutive_pairs(clip.path, 1000, seed=0)) == 45  # 90 frames: 45 pairs at most
    # a container that claims more frames than decode: the pairs that were read are kept
    assert len(consecutive_pairs(clip.path, 1000, seed=0, frame_count=200)) == 45

"""Synthetic multi-animal clips: exact keypoints and identities, events where they say."""

from __future__ import annotations

import numpy as np
import pytest

from tests.videofactory import decode_all
from videos.synthetic_multi import (
    BODYPARTS,
    LEFT_RIGHT,
    MULTI_PART_COLORS,
    SKELETON,
    generate_video,
    render_frame,
    simulate,
    skeleton_spec,
)

CENTRE = BODYPARTS.index("centre")
SNOUT = BODYPARTS.index("snout")


@pytest.fixture(scope="module")
def truth():
    return simulate()


def test_vocabulary_and_shapes(truth):
    names = set(BODYPARTS)
    assert len(BODYPARTS) >= 4
    assert all(a in names and b in names for a, b in SKELETON + LEFT_RIGHT)
    assert len(set(MULTI_PART_COLORS.values())) == len(BODYPARTS)  # each part its own colour
    assert truth.keypoints.shape == (120, 3, len(BODYPARTS), 2)
    assert truth.visible.shape == (120, 3, len(BODYPARTS))
    assert truth.identities == ("animal_0", "animal_1", "animal_2")
    assert truth.bodyparts == BODYPARTS and truth.skeleton == SKELETON
    assert [p["name"] for p in skeleton_spec()["bodyparts"]] == list(BODYPARTS)


def test_visible_keypoints_show_their_part_colour():
    checked = 0
    truth = simulate()
    for index in range(0, 120, 7):
        image, keypoints = render_frame(index)
        assert np.array_equal(keypoints, truth.keypoints[index], equal_nan=True)
        for n in range(3):
            for k, part in enumerate(BODYPARTS):
                if truth.visible[index, n, k]:
                    x, y = keypoints[n, k]
                    assert tuple(image[round(y), round(x)]) == MULTI_PART_COLORS[part]
                    checked += 1
    assert checked > 200


def test_bodies_are_rigid_and_move_smoothly(truth):
    both = np.isfinite(truth.keypoints[..., 0]).all(axis=-1)
    length = np.linalg.norm(truth.keypoints[..., SNOUT, :] - truth.keypoints[..., -1, :], axis=-1)
    assert np.ptp(length[both]) < 0.2  # snout to tail base, to the 1/16 px grid
    step = np.linalg.norm(np.diff(truth.keypoints[:, :, CENTRE], axis=0), axis=-1)
    assert np.nanmax(step) < 8.0 and np.nanmedian(step) > 1.0


def _segments_cross(p: np.ndarray, q: np.ndarray) -> bool:
    """Whether polyline p (n, 2) crosses polyline q (m, 2) (any segment pair intersects)."""
    def side(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    for a, b in zip(p[:-1], p[1:], strict=True):
        for c, d in zip(q[:-1], q[1:], strict=True):
            if side(a, b, c) != side(a, b, d) and side(c, d, a) != side(c, d, b):
                return True
    return False


def test_the_crossing_animals_paths_intersect_while_they_overlap(truth):
    event = truth.event("crossing")
    assert event.animals == (0, 1) and 5 <= len(event.frames) <= 30
    path_0 = truth.keypoints[event.start : event.stop, 0, CENTRE]
    path_1 = truth.keypoints[event.start : event.stop, 1, CENTRE]
    assert _segments_cross(path_0, path_1)
    # The animal drawn below hides parts under the one above, and only there.
    hidden = ~truth.visible[:, 0] & np.isfinite(truth.keypoints[:, 0, :, 0])
    assert hidden[event.start : event.stop].any()
    assert not hidden[: event.start].any()


def test_the_touching_animals_meet_snout_to_snout_without_crossing(truth):
    event = truth.event("touching")
    assert event.animals == (0, 1) and len(event.frames) >= 4
    assert event.start >= truth.event("crossing").stop
    snouts = truth.keypoints[event.frames, 0, SNOUT] - truth.keypoints[event.frames, 1, SNOUT]
    assert np.linalg.norm(snouts, axis=-1).min() < 5.0
    centres = truth.keypoints[event.frames, 0, CENTRE] - truth.keypoints[event.frames, 1, CENTRE]
    body = np.linalg.norm(truth.keypoints[0, 0, SNOUT] - truth.keypoints[0, 0, -1])
    assert np.linalg.norm(centres, axis=-1).min() > body
    before = truth.keypoints[event.start - 3, :2, SNOUT]
    assert np.linalg.norm(before[0] - before[1]) > 5.0


def test_one_animal_leaves_and_comes_back(truth):
    event = truth.event("leaving")
    assert event.animals == (1,)
    present = np.isfinite(truth.keypoints[:, 1, :, 0])
    assert present[event.start - 1].all() and not present[event.start].all()
    assert present[event.stop].all() and not present[event.stop - 1].all()
    gone = ~present.any(axis=-1)
    assert gone[event.start : event.stop].sum() >= 5 and not gone[: event.start].any()
    assert np.isfinite(truth.keypoints[:, [0, 2]]).all()  # the others stay inside


def test_video_decodes_whole_and_matches_the_render(tmp_path):
    video = generate_video(tmp_path / "multi.mp4", n_animals=2, n_frames=90, width=160,
                           height=120)
    frames = decode_all(video.path)
    assert len(frames) == 90 == video.frame_count
    assert video.keypoints.shape == (90, 2, len(BODYPARTS), 2)
    assert [e.kind for e in video.events] == ["crossing", "touching", "leaving"]
    for index in (0, 45, 89):
        expected, keypoints = render_frame(index, n_animals=2, n_frames=90, width=160,
                                           height=120)
        assert np.array_equal(keypoints, video.keypoints[index], equal_nan=True)
        assert np.abs(frames[index].astype(int) - expected).mean() < 6


def test_event_ranges_follow_the_clip_length():
    short, long = simulate(n_frames=90), simulate(n_frames=150)
    for kind in ("crossing", "touching", "leaving"):
        a, b = short.event(kind), long.event(kind)
        assert abs(a.start / 89 - b.start / 149) < 0.03, kind


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="even"):
        generate_video(tmp_path / "x.mp4", width=161)
    with pytest.raises(ValueError, match="n_animals"):
        simulate(n_animals=1)
    with pytest.raises(ValueError, match="n_frames"):
        simulate(n_frames=10)

"""The synthetic animal: keypoints are where the parts are drawn; videos decode whole."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.videofactory import decode_all, make_scene_video, make_video
from videos.synthetic import (
    BODYPARTS,
    LEFT_RIGHT,
    PART_COLORS,
    SKELETON,
    generate_video,
    render_frame,
    write_images,
)

FLAT = np.full((120, 160, 3), 128, np.uint8)


def test_vocabulary_is_consistent():
    names = set(BODYPARTS)
    assert all(a in names and b in names for a, b in SKELETON + LEFT_RIGHT)


def test_keypoint_pixel_has_the_part_colour():
    for index in range(0, 90, 9):
        image, keypoints = render_frame(index, seed=3)
        assert keypoints.shape == (1, len(BODYPARTS), 2)
        for part, (x, y) in zip(BODYPARTS, keypoints[0], strict=True):
            # Pixel (i, j) is centred on (x=j, y=i).
            pixel = image[round(y), round(x)]
            assert tuple(pixel) == PART_COLORS[part], (index, part)


def test_keypoints_are_marker_centres_without_half_pixel_bias():
    errors = []
    for index in range(0, 120, 4):
        image, keypoints = render_frame(index, background=FLAT)
        for part, (x, y) in zip(BODYPARTS, keypoints[0], strict=True):
            rows, cols = np.nonzero(np.all(image == PART_COLORS[part], axis=2))
            errors.append((cols.mean() - x, rows.mean() - y))
    errors = np.array(errors)
    # OpenCV's anti-aliasing is approximate, so single markers wander a little; a wrong
    # pixel-centre convention would show up as a 0.5 px mean offset.
    assert np.abs(errors).max() < 0.6
    assert np.abs(errors.mean(axis=0)).max() < 0.1


def test_keypoints_are_on_the_sixteenth_pixel_grid_and_inside_the_frame():
    _, keypoints = render_frame(41, width=200, height=150)
    assert np.array_equal(keypoints * 16, np.round(keypoints * 16))
    assert (keypoints >= 0).all() and (keypoints[..., 0] < 200).all()
    assert (keypoints[..., 1] < 150).all()


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def test_left_ear_is_on_the_animals_left():
    for index in (0, 10, 50):
        _, keypoints = render_frame(index)
        snout, left, right, tail = keypoints[0]
        forward = snout - tail
        # With image y pointing down, the animal's left is where the 2-D cross product is < 0.
        assert _cross(forward, left - tail) < 0 < _cross(forward, right - tail)


def test_render_is_deterministic_and_seeded():
    a, ka = render_frame(5, seed=1)
    b, kb = render_frame(5, seed=1)
    c, kc = render_frame(5, seed=2)
    assert np.array_equal(a, b) and np.array_equal(ka, kb)
    assert not np.array_equal(ka, kc)


def test_video_decodes_with_all_frames_and_matches_render(tmp_path):
    video = make_video(tmp_path, n_frames=60)
    frames = decode_all(video.path)
    assert len(frames) == 60 == video.frame_count
    assert video.keypoints.shape == (60, 1, 4, 2)
    assert video.keypoints.dtype == np.float64
    for index in (0, 31, 59):
        expected, keypoints = render_frame(index)
        assert np.array_equal(keypoints, video.keypoints[index])
        # Lossy mp4v: close on average, and the snout still shows red where it is drawn.
        assert np.abs(frames[index].astype(int) - expected).mean() < 6
        x, y = keypoints[0, 0]
        blue, green, red = frames[index][round(y), round(x)].astype(int)
        assert red > 150 and red - max(blue, green) > 80


def test_scenes_set_the_backgrounds(tmp_path):
    video = make_scene_video(tmp_path)
    assert video.frame_count == 150
    assert np.bincount(video.scene_of_frame).tolist() == [60, 15, 60, 15]
    frames = decode_all(video.path)
    means = [frames[i].mean() for i in (10, 65, 100, 140)]
    assert means[1] > 200 and means[3] < 50 and 90 < means[0] < 140


def test_scenes_must_agree_with_n_frames(tmp_path):
    with pytest.raises(ValueError, match="scenes add up"):
        generate_video(tmp_path / "x.mp4", n_frames=10, scenes=[(5, (0, 0, 0))])


def test_odd_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="even"):
        generate_video(tmp_path / "x.mp4", width=161)


def test_write_images_round_trips(tmp_path):
    images = write_images(tmp_path / "imgs", 4, seed=2)
    assert images.keypoints.shape == (4, 1, 4, 2)
    for path, index, keypoints in zip(
        images.paths, images.frame_indices, images.keypoints, strict=True
    ):
        expected, expected_keypoints = render_frame(index, seed=2)
        assert np.array_equal(cv2.imread(str(path)), expected)
        assert np.array_equal(keypoints, expected_keypoints)

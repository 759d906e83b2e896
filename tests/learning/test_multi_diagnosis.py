"""`training.multi_diagnosis`: frames and labels turn together, shifted labels find the offset
between frames and labels, and the rotation check measures a predictor on turned frames."""

from __future__ import annotations

import numpy as np
import pytest

from learning.training.multi_diagnosis import (
    accuracy,
    error_by_gap,
    error_by_label_shift,
    error_by_rotation,
    rotate_frame,
)


def blob_frame(points: np.ndarray, height: int = 48, width: int = 80) -> np.ndarray:
    """uint8 (H, W, 3): point k of every animal a Gaussian blob in colour channel k."""
    yy, xx = np.mgrid[:height, :width]
    image = np.zeros((height, width, 3), np.float64)
    for animal in points:
        for k, (x, y) in enumerate(animal):
            image[..., k] += 250 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5 ** 2))
    return np.clip(image, 0, 255).astype(np.uint8)


def brightest(images: list[np.ndarray]) -> list[np.ndarray]:
    """A 'predictor' of one animal with two parts: the brightest pixel of channels 0 and 1."""
    out = []
    for image in images:
        parts = [np.unravel_index(np.argmax(image[..., k]), image.shape[:2]) for k in range(2)]
        out.append(np.array([[[x, y, 1.0] for y, x in parts]], np.float32))
    return out


@pytest.mark.parametrize("degrees", [90, 180, 270, 30, -45])
def test_a_turned_frame_keeps_its_points_on_their_pixels(degrees):
    points = np.array([[[12.0, 9.0], [60.0, 35.0]]], np.float32)
    turned, moved = rotate_frame(blob_frame(points), points, degrees)
    if degrees in (90, 270):
        assert turned.shape[:2] == (80, 48)  # the canvas holds the whole frame
    found = brightest([turned])[0][0, :, :2]
    assert np.abs(found - moved[0]).max() <= 1.0


def test_four_quarter_turns_give_the_frame_back_and_nan_stays_nan():
    points = np.array([[[12.0, 9.0], [np.nan, np.nan]]], np.float32)
    image = blob_frame(np.nan_to_num(points))
    turned, moved = image, points
    for _ in range(4):
        turned, moved = rotate_frame(turned, moved, 90)
    assert turned.shape == image.shape
    assert np.abs(turned.astype(int) - image.astype(int)).max() <= 1
    assert np.allclose(moved[0, 0], points[0, 0], atol=1e-3)
    assert np.isnan(moved[0, 1]).all()


def test_the_rotation_check_measures_the_predictor_on_turned_frames_and_labels():
    rng = np.random.default_rng(0)
    gts = [rng.uniform([8, 8], [70, 40], size=(1, 2, 2)).astype(np.float32) for _ in range(6)]
    frames = [blob_frame(g) for g in gts]
    result = error_by_rotation(brightest, frames, gts, angles=(0, 90, 135))
    assert set(result) == {"0", "90", "135"}
    for figures in result.values():
        assert figures["median_error_px"] <= 1.0
    # labels left unturned would be far from what the predictor finds on the turned frames
    turned = [rotate_frame(f, g, 90)[0] for f, g in zip(frames, gts, strict=True)]
    unturned = accuracy(brightest(turned), gts)
    assert unturned["median_error_px"] > 5


def test_shifted_labels_find_the_offset_between_frames_and_labels():
    base = np.array([[[10.0, 20.0], [30.0, 40.0]], [[10.0, 80.0], [30.0, 100.0]]])
    labels = {i: base + [3.0 * i, 0.0] for i in range(20)}  # two animals, 3 px a frame
    # each frame's predictions are the labels two frames later (frames decoded two late)
    preds = {i: np.concatenate([labels[i + 2], np.ones((2, 2, 1))], axis=-1) for i in range(18)}
    result = error_by_label_shift(preds, labels, shifts=(-1, 0, 1, 2, 3, 40))
    assert result["2"] == 0.0
    assert result["0"] == pytest.approx(6.0) and result["1"] == pytest.approx(3.0)
    assert result["3"] == pytest.approx(3.0) and result["-1"] == pytest.approx(9.0)
    assert result["40"] is None


def test_the_error_is_grouped_by_the_distance_to_the_nearest_training_frame():
    base = np.array([[[10.0, 20.0], [30.0, 40.0]]])
    labels = {i: base for i in range(200)}
    # predictions drift away from the labels by 0.1 px per frame from the training frames
    trained = [0, 4, 8]
    gaps = {i: min(abs(i - t) for t in trained) for i in range(200)}
    preds = {i: np.concatenate([base + [0.1 * gaps[i], 0.0], np.ones((1, 2, 1))], axis=-1)
             for i in range(200) if i not in trained}
    result = error_by_gap(preds, labels, trained, edges=(1, 3, 10, 100))
    assert list(result) == ["1-2", "3-9", "10-99", "100+"]
    # frames 1, 2, 3, 5, 6, 7, 9 and 10 lie 1 or 2 frames from one trained on (five of them 1)
    assert result["1-2"] == {"frames": 8, "median_error_px": pytest.approx(0.1)}
    assert result["3-9"] == {"frames": 7, "median_error_px": pytest.approx(0.6)}
    assert result["100+"]["frames"] == 200 - 108
    assert [r["median_error_px"] for r in result.values()] == sorted(
        r["median_error_px"] for r in result.values())
    with pytest.raises(ValueError):
        error_by_gap(preds, labels, [])


def test_accuracy_of_exact_predictions():
    gts = [np.array([[[10.0, 10.0], [20.0, 30.0]]])]
    preds = [np.concatenate([gts[0], np.ones((1, 2, 1))], axis=-1)]
    assert accuracy(preds, gts) == {"map_oks": 1.0, "median_error_px": 0.0}

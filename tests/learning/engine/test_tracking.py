"""Tracked-crop analysis: same poses as whole-frame analysis, fewer pixels through the network."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

from learning.engine.config import ModelConfig
from learning.engine.tracking import (
    TrackingConfig,
    analyze_video_tracked,
    cut_windows,
    window_origin,
)
from learning.engine.video import analyze_video

STRIDE = 4
LOOSE = TrackingConfig(crop_size=96, min_likelihood=0.2)  # the stand-in's peaks are 0.25..1
CFG = ModelConfig(num_keypoints=2, input_scale=1.0, heatmap_stride=STRIDE, locref=False,
                  pretrained=None)


class BrightnessRunner:
    """A stand-in network: keypoint 0's heatmap is the red channel, keypoint 1's the green one,
    averaged over stride x stride cells. Records the input sizes it saw."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, batch: np.ndarray) -> tuple[torch.Tensor, None]:
        self.shapes.append(batch.shape)
        x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() / 255
        return nnf.avg_pool2d(x[:, :2], STRIDE), None


def write_clip(path: Path, centers: list[tuple[int, int]], size: tuple[int, int] = (320, 256)
               ) -> Path:
    """A lossless clip: a red and a green square (the two keypoints) at each centre."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 30, (width, height))
    for cx, cy in centers:
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[cy - 4 : cy + 4, cx - 12 : cx - 4] = (0, 0, 255)  # BGR red
        frame[cy - 4 : cy + 4, cx + 4 : cx + 12] = (0, 255, 0)
        writer.write(frame)
    writer.release()
    return path


def test_window_origin_is_aligned_and_inside_the_frame():
    assert window_origin(np.array([160.0, 128.0]), 128, 256, 320) == (96, 64)
    assert window_origin(np.array([5.0, 5.0]), 128, 256, 320) == (0, 0)
    assert window_origin(np.array([319.0, 255.0]), 128, 256, 320) == (192, 128)
    left, top = window_origin(np.array([171.0, 99.0]), 128, 256, 320)
    assert left % 32 == 0 and top % 32 == 0


def test_cut_windows_copies_pixels_and_zero_fills_outside():
    images = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
    windows = cut_windows(images, [(4, 4), (-2, 0)], 6)
    assert np.array_equal(windows[0, :4, :4], images[0, 4:, 4:])
    assert not windows[0, 4:].any() and not windows[0, :, 4:].any()
    assert np.array_equal(windows[1, :, 2:], images[1, :6, :4])
    assert not windows[1, :, :2].any()


def test_tracked_equals_whole_frame_and_uses_windows(tmp_path):
    centers = [(60 + 3 * i, 60 + 2 * i) for i in range(48)]
    clip = write_clip(tmp_path / "walk.avi", centers)
    whole = analyze_video(clip, BrightnessRunner(), CFG, batch_size=8)
    runner = BrightnessRunner()
    tracked, stats = analyze_video_tracked(clip, runner, CFG, LOOSE,
                                           batch_size=8)
    assert np.array_equal(tracked, whole)
    assert stats.cropped >= 40 and stats.cropped + stats.full == 48
    assert (96, 96) in {s[1:3] for s in runner.shapes}
    # The red square's cell centre is where the poses put keypoint 0.
    assert np.abs(tracked[:, 0, 0] - [cx - 8 for cx, _ in centers]).max() <= STRIDE


def test_a_jump_out_of_the_window_falls_back_to_the_whole_frame(tmp_path):
    centers = [(60, 60)] * 20 + [(260, 200)] * 20
    clip = write_clip(tmp_path / "jump.avi", centers)
    whole = analyze_video(clip, BrightnessRunner(), CFG, batch_size=8)
    tracked, stats = analyze_video_tracked(clip, BrightnessRunner(), CFG,
                                           LOOSE, batch_size=8)
    assert np.array_equal(tracked, whole)
    assert stats.full >= 2  # the first frame and the frame after the jump at least
    assert np.abs(tracked[20:, 0, 0] - 252).max() <= STRIDE


def test_a_range_starting_on_a_keyframe_equals_one_pass(tmp_path):
    centers = [(60 + 4 * i, 80 + i) for i in range(40)]
    clip = write_clip(tmp_path / "walk.avi", centers)
    tracking = TrackingConfig(crop_size=96, min_likelihood=0.2, keyframe_interval=16)
    one, _ = analyze_video_tracked(clip, BrightnessRunner(), CFG, tracking, batch_size=8)
    parts = [analyze_video_tracked(clip, BrightnessRunner(), CFG, tracking, start=a, stop=b,
                                   batch_size=8)[0] for a, b in ((0, 16), (16, 32), (32, 40))]
    assert np.array_equal(np.concatenate(parts), one)


@pytest.mark.parametrize("bad", [{"crop_size": 100}, {"min_likelihood": 2.0},
                                 {"keyframe_interval": 0}])
def test_bad_tracking_config(bad):
    with pytest.raises(ValueError):
        TrackingConfig(**bad)

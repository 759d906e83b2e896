"""Synthetic pose data: coloured discs on a dark background, one disc per keypoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from learning.engine.data import PoseSample

COLORS = ((255, 60, 60), (60, 255, 60), (80, 80, 255))
SHIFT = 4  # cv2 fixed-point bits, so disc centres can be sub-pixel


def draw_sample(
    path: Path, keypoints: np.ndarray, size: tuple[int, int] = (64, 80), radius: float = 4.0
) -> PoseSample:
    """Write a PNG with a disc of COLORS[k] centred on each finite keypoint (K, 2)."""
    image = np.full((*size, 3), 20, dtype=np.uint8)
    for k, (x, y) in enumerate(keypoints):
        if np.isfinite(x) and np.isfinite(y):
            center = (round(x * 2**SHIFT), round(y * 2**SHIFT))
            cv2.circle(image, center, round(radius * 2**SHIFT), COLORS[k], -1, cv2.LINE_AA, SHIFT)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return PoseSample.from_keypoints(str(path), keypoints)


@pytest.fixture
def make_samples(tmp_path: Path) -> Callable[..., list[PoseSample]]:
    """Factory: n random samples with K (<= 3) keypoints, images of `size` (H, W)."""

    def make(
        n: int, k: int = 3, size: tuple[int, int] = (64, 80), seed: int = 0
    ) -> list[PoseSample]:
        rng = np.random.default_rng(seed)
        margin = 8
        samples = []
        for i in range(n):
            xs = rng.uniform(margin, size[1] - margin, k)
            ys = rng.uniform(margin, size[0] - margin, k)
            kp = np.stack([xs, ys], axis=1).astype(np.float32)
            samples.append(draw_sample(tmp_path / f"img{seed}_{i:03d}.png", kp, size))
        return samples

    return make

"""Synthetic multi-animal frames: identical-looking "animals" of four coloured blobs (one colour
per body part) on a noisy background, at random positions and headings, some touching."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from learning.engine.multi.samples import MultiSample

PART_COLORS = ((255, 70, 70), (70, 255, 70), (90, 90, 255), (255, 255, 60))
# Part offsets from the animal's centre along / across its heading (pixels): head, thorax,
# abdomen, one wing; their mean is the anchor.
BODY = np.array([[14.0, 0.0], [2.0, 0.0], [-12.0, 0.0], [-2.0, 8.0]])
RADII = (4.5, 4.0, 5.0, 3.5)
K = len(BODY)
MIN_GAP, TOUCH = 8.0, 10.0  # px between the centres of two animals' nearest blobs
SHIFT = 4


def animal_points(center: np.ndarray, heading: float) -> np.ndarray:
    """float32 (K, 2) part positions of an animal centred at `center` facing `heading`."""
    c, s = np.cos(heading), np.sin(heading)
    rot = np.array([[c, -s], [s, c]])
    return (center + (BODY - BODY.mean(axis=0)) @ rot.T).astype(np.float32)


def draw_frame(path: Path, animals: np.ndarray, size: int, rng: np.random.Generator) -> None:
    """Write a PNG with every animal (N, K, 2) drawn on uniform noise."""
    image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    for points in animals:
        for k, (x, y) in enumerate(points):
            center = (round(x * 2**SHIFT), round(y * 2**SHIFT))
            cv2.circle(image, center, round(RADII[k] * 2**SHIFT), PART_COLORS[k], -1,
                       cv2.LINE_AA, SHIFT)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def place_animals(n: int, size: int, rng: np.random.Generator, touching: bool) -> np.ndarray:
    """(n, K, 2): random centres and headings, kept 18 px inside the frame, no two parts of
    different animals nearer than MIN_GAP (their blobs may touch, not cover each other);
    `touching`: the first two animals' nearest parts are at most TOUCH apart (blobs meet)."""
    animals: list[np.ndarray] = []
    while len(animals) < n:
        if touching and len(animals) == 1:
            angle = rng.uniform(0, 2 * np.pi)
            center = animals[0].mean(axis=0) + rng.uniform(20, 28) * np.array(
                [np.cos(angle), np.sin(angle)])
        else:
            center = rng.uniform(18, size - 18, 2)
        candidate = animal_points(center, rng.uniform(0, 2 * np.pi))
        gaps = [np.linalg.norm(candidate[:, None] - a[None], axis=-1).min() for a in animals]
        inside = ((center >= 18) & (center <= size - 18)).all()
        meets = not (touching and len(animals) == 1) or gaps[0] <= TOUCH
        if inside and meets and all(g >= MIN_GAP for g in gaps):
            animals.append(candidate)
    return np.stack(animals)


@pytest.fixture
def make_frames(tmp_path: Path) -> Callable[..., list[MultiSample]]:
    """Factory: n frames of `size` px with `animals` animals each (every other frame has the
    first two touching); returns MultiSamples with the exact keypoints."""

    def make(n: int, animals: int = 2, size: int = 128, seed: int = 0) -> list[MultiSample]:
        rng = np.random.default_rng(seed)
        samples = []
        for i in range(n):
            points = place_animals(animals, size, rng, touching=animals >= 2 and i % 2 == 0)
            path = tmp_path / f"frame{seed}_{i:03d}.png"
            draw_frame(path, points, size, rng)
            samples.append(MultiSample.from_instances(str(path), points, K))
        return samples

    return make

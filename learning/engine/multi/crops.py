"""Windows centred on an animal's anchor: training files for the centered-instance network and
the inference crops of detected animals.

A crop is `side` original pixels square with its centre on the anchor, rounded to whole pixels
(left = round(x - side / 2)); parts of it outside the frame are zero, as `data.cut_window` pads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import cv2
import numpy as np

from learning.engine.data import (
    WINDOW_FACTOR,
    PoseSample,
    cut_window,
    load_image,
)
from learning.engine.multi.samples import MultiSample, anchor


def crop_origin(center: np.ndarray, side: int) -> tuple[int, int]:
    """(left, top) of the `side`-pixel crop centred on `center` (x, y)."""
    return round(float(center[0]) - side / 2), round(float(center[1]) - side / 2)


def cut_crops(image: np.ndarray, centers: np.ndarray, side: int
              ) -> tuple[list[np.ndarray], np.ndarray]:
    """uint8 (side, side, 3) crops of `image` centred on each of centers (n, 2), and their
    int (n, 2) (left, top) offsets: crop pixel + offset = image pixel."""
    crops, origins = [], []
    for center in centers:
        left, top = crop_origin(center, side)
        crops.append(cut_window(image, left, top, side, side))
        origins.append((left, top))
    return crops, np.array(origins, dtype=np.int64).reshape(-1, 2)


def training_window(crop_side: int, jitter: float) -> int:
    """Side (original pixels) of the file cut per animal for training: the training crop plus
    the room `data.PoseDataset` needs around it for rotation and zoom-out, plus the jitter."""
    return math.ceil(crop_side * (WINDOW_FACTOR + 2 * jitter)) + 2


def write_instance_samples(
    samples: Sequence[MultiSample], side: int, directory: str, prefix: str
) -> list[PoseSample]:
    """One PoseSample per labeled animal: a `side`-pixel window centred on its anchor, written
    as PNG into `directory`, with that animal's keypoints (others in view stay unlabeled, so
    the network learns to report the centred animal only)."""
    os.makedirs(directory, exist_ok=True)
    result = []
    for i, sample in enumerate(samples):
        present = sample.present
        if not present.any():
            continue
        image = load_image(sample.image_path)
        for j, (kp, ok) in enumerate(zip(sample.keypoints, present, strict=True)):
            if not ok.any():
                continue
            left, top = crop_origin(anchor(kp[ok]), side)
            window = cut_window(image, left, top, side, side)
            path = os.path.join(directory, f"{prefix}{i:05d}_{j:02d}.png")
            cv2.imwrite(path, cv2.cvtColor(window, cv2.COLOR_RGB2BGR))
            shifted = np.where(ok[:, None], kp - np.array([left, top], np.float32), np.nan)
            visibility = np.where(ok, sample.visibility[j], 0).astype(np.int8)
            result.append(PoseSample(path, shifted.astype(np.float32), visibility))
    return result

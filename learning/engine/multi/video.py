"""Every animal in every frame of a video, for whole-video analysis (then `tracking.track`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from learning.engine.video import iter_batches


class AnimalPredictor(Protocol):
    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]: ...


def pad_animals(animals: list[np.ndarray], slots: int, n_keypoints: int) -> np.ndarray:
    """float64 (F, slots, K, 3): each frame's animals (best first as predicted), NaN-padded;
    extra animals beyond `slots` are dropped."""
    out = np.full((len(animals), slots, n_keypoints, 3), np.nan)
    for f, found in enumerate(animals):
        n = min(slots, len(found))
        if n:
            out[f, :n] = found[:n]
    return out


def analyze_video_animals(
    path: str | Path, predictor: AnimalPredictor, n_keypoints: int, slots: int, *,
    width: int, height: int, start: int = 0, stop: int | None = None, batch_size: int = 16,
    progress: Callable[[int, int | None], None] | None = None,
) -> np.ndarray:
    """Animals of frames [start, stop) as (F, slots, K, 3) x, y, confidence (NaN-padded).

    Frames are decoded in a background thread (`engine.video.iter_batches`, at scale 1; the
    padding to a multiple of 32 is cut off again) and predicted a batch at a time.
    `progress(frames done, total or None)` after every batch.
    """
    found: list[np.ndarray] = []
    total = None if stop is None else stop - start
    for batch in iter_batches(path, 1.0, start=start, stop=stop, batch_size=batch_size):
        images = [np.ascontiguousarray(img[:height, :width]) for img in batch.images]
        found.extend(predictor.predict(images))
        if progress is not None:
            progress(len(found), total)
    return pad_animals(found, slots, n_keypoints)

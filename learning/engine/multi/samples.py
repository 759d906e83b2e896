"""Multi-animal samples: every labeled animal of a frame, and the point each animal is found by."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from learning.engine.data import NOT_PRESENT, VISIBLE


@dataclass(frozen=True, eq=False)
class MultiSample:
    """One labeled frame with N >= 0 animals.

    keypoints: float32 (N, K, 2) x, y in original-image pixels, NaN where a part is absent.
    visibility: int8 (N, K): 0 not present, 1 occluded but estimated, 2 visible.
    """

    image_path: str
    keypoints: np.ndarray
    visibility: np.ndarray

    @classmethod
    def from_instances(cls, image_path: str, instances: np.ndarray, num_keypoints: int
                       ) -> MultiSample:
        """Sample from (N, K, 2|3) instances (a confidence column is dropped); visibility 2 where
        a point is finite, else 0. N may be 0."""
        arr = np.asarray(instances, dtype=np.float32)
        if arr.size == 0:
            arr = np.zeros((0, num_keypoints, 2), dtype=np.float32)
        kp = arr.reshape(-1, num_keypoints, arr.shape[-1])[..., :2]
        present = np.isfinite(kp).all(axis=-1)
        kp = np.where(present[..., None], kp, np.nan).astype(np.float32)
        return cls(image_path, kp, np.where(present, VISIBLE, NOT_PRESENT).astype(np.int8))

    @property
    def present(self) -> np.ndarray:
        """bool (N, K): labeled (visible or occluded) and finite."""
        return (self.visibility > NOT_PRESENT) & np.isfinite(self.keypoints).all(axis=-1)

    @property
    def animals(self) -> np.ndarray:
        """float32 (N', K, 2): the instances with at least one present part."""
        return self.keypoints[self.present.any(axis=1)]

    def anchors(self) -> np.ndarray:
        """float32 (N', 2): `anchor` of every instance with at least one present part."""
        present = self.present
        return np.array([anchor(kp[ok]) for kp, ok in zip(self.keypoints, present, strict=True)
                         if ok.any()], dtype=np.float32).reshape(-1, 2)


def anchor(points: np.ndarray) -> np.ndarray:
    """float32 (2,): the mean of an instance's present points (P, 2) (NaN rows are ignored).

    The point both top-down networks agree on: the centroid network finds it, and the
    centered-instance network sees each animal's crop centred on it.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        return np.full(2, np.nan, dtype=np.float32)
    return points.mean(axis=0).astype(np.float32)


def extents(samples: Sequence[MultiSample]) -> np.ndarray:
    """float64 (M,): each labeled animal's extent (original pixels): the larger side of its
    present points' bounding box, over animals with at least two present parts."""
    values = [
        float(np.ptp(kp[ok], axis=0).max())
        for sample in samples
        for kp, ok in zip(sample.keypoints, sample.present, strict=True)
        if ok.sum() >= 2
    ]
    return np.array(values, dtype=np.float64)


def typical_extent(samples: Sequence[MultiSample], percentile: float = 50.0) -> float:
    """`percentile` of the animals' extents (original pixels); raises ValueError without any
    animal with two labeled parts (nothing to size the networks by)."""
    values = extents(samples)
    if len(values) == 0:
        raise ValueError("no labeled animal with at least two parts")
    return float(np.percentile(values, percentile))


def max_animals(samples: Sequence[MultiSample]) -> int:
    """Most animals labeled in one frame (at least 1)."""
    return max([1, *(int(s.present.any(axis=1).sum()) for s in samples)])


def split_frames(samples: Sequence[MultiSample], fraction: float, seed: int
                 ) -> tuple[list[MultiSample], list[MultiSample]]:
    """Seeded split of frames into (train, validation); `fraction` of them (at least one when
    > 0 and there are two or more frames) go to validation, so no frame is in both."""
    order = np.random.default_rng(seed).permutation(len(samples))
    n_val = min(max(1, math.floor(len(samples) * fraction + 0.5)) if fraction > 0 else 0,
                len(samples) - 1)
    n_val = max(n_val, 0)
    return [samples[i] for i in order[n_val:]], [samples[i] for i in order[:n_val]]

"""Samples, image loading and the augmenting training dataset.

Coordinate convention everywhere in the engine: pixel centres sit at integer coordinates, so a
W-pixel-wide image spans x in [-0.5, W - 0.5]. Resizing by `s` maps x to (x + 0.5) * s - 0.5.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from torch.utils.data import Dataset
from torchvision import tv_tensors

from learning.engine.config import AugmentConfig

logger = logging.getLogger(__name__)

NOT_PRESENT, OCCLUDED, VISIBLE = 0, 1, 2
SIZE_MULTIPLE = 32


@dataclass(frozen=True, eq=False)
class PoseSample:
    """One labeled image.

    keypoints: float32 (K, 2) x, y in original-image pixels, NaN where not present.
    visibility: int8 (K,): 0 not present, 1 occluded but estimated, 2 visible.
    """

    image_path: str
    keypoints: np.ndarray
    visibility: np.ndarray

    @classmethod
    def from_keypoints(cls, image_path: str, keypoints: np.ndarray) -> PoseSample:
        """Sample whose visibility is 2 where the keypoint is finite, else 0."""
        kp = np.asarray(keypoints, dtype=np.float32).reshape(-1, 2)
        present = np.isfinite(kp).all(axis=1)
        kp = np.where(present[:, None], kp, np.nan).astype(np.float32)
        return cls(image_path, kp, np.where(present, VISIBLE, NOT_PRESENT).astype(np.int8))

    @property
    def present(self) -> np.ndarray:
        """bool (K,): labeled (visible or occluded) and finite."""
        return (self.visibility > NOT_PRESENT) & np.isfinite(self.keypoints).all(axis=1)


def load_image(path: str) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3); raises FileNotFoundError if unreadable."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resize_for_network(image: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resize uint8 (H, W, 3) by `scale`; returns the image and its exact float32 (sx, sy)."""
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, (nw, nh), interpolation=interp)
    return np.ascontiguousarray(image), np.array([nw / w, nh / h], dtype=np.float32)


def to_network_coords(xy: np.ndarray, scale_xy: np.ndarray) -> np.ndarray:
    """Original-image pixels (..., 2) -> network-input pixels (..., 2)."""
    return (xy + 0.5) * scale_xy - 0.5


def to_original_coords(xy: np.ndarray, scale_xy: np.ndarray) -> np.ndarray:
    """Network-input pixels (..., 2) -> original-image pixels (..., 2)."""
    return (xy + 0.5) / scale_xy - 0.5


def round_up(n: int, multiple: int = SIZE_MULTIPLE) -> int:
    """Smallest multiple of `multiple` that is >= n."""
    return int(math.ceil(n / multiple) * multiple)


def training_size(samples: Sequence[PoseSample], scale: float) -> tuple[int, int]:
    """(height, width) that holds every sample's resized image, rounded up to 32."""
    from PIL import Image  # header-only size read; cv2 would decode the whole image

    hmax = wmax = SIZE_MULTIPLE
    for sample in samples:
        with Image.open(sample.image_path) as im:
            w, h = im.size
        hmax, wmax = max(hmax, round(h * scale)), max(wmax, round(w * scale))
    return round_up(hmax), round_up(wmax)


def auto_crop_size(
    samples: Sequence[PoseSample], scale: float, margin_px: int
) -> tuple[int, int]:
    """Square training crop (height, width) that holds the animal with `margin_px` to spare.

    Side = 95th percentile of the labeled keypoints' extent (network-input pixels) + 2 margins,
    rounded up to 32; never larger than `training_size` (the whole image) per dimension.
    Training on crops around the animal instead of whole frames measured ~3x more images/s and
    a lower error within a fixed time budget.
    """
    full = training_size(samples, scale)
    extents = [
        np.ptp(sample.keypoints[sample.present], axis=0).max() * scale
        for sample in samples
        if sample.present.any()
    ]
    extent = float(np.percentile(extents, 95)) if extents else float(max(full))
    side = round_up(int(math.ceil(extent + 2 * margin_px)))
    return min(side, full[0]), min(side, full[1])


class PoseDataset(Dataset[dict[str, torch.Tensor]]):
    """Resized (and, if `augment` is given, augmented) samples padded to one fixed size.

    Each item: image uint8 (3, H, W); keypoints float32 (K, 2) in network-input pixels (0 where
    absent); weights float32 (K,) = 1 for labeled points inside the image (occluded included),
    0 for not-present ones; scale_xy float32 (2,); index int64 ().
    """

    def __init__(
        self,
        samples: Sequence[PoseSample],
        scale: float,
        size: tuple[int, int],
        augment: AugmentConfig | None = None,
        seed: int = 0,
        cache: bool = True,
    ) -> None:
        self.samples = list(samples)
        self.scale = scale
        self.size = size
        self.augment = augment if augment is not None and augment.enabled else None
        self.rng = np.random.default_rng(seed)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.samples)

    def _resized(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        image, scale_xy = resize_for_network(load_image(self.samples[index].image_path), self.scale)
        if self._cache is not None:
            self._cache[index] = (image, scale_xy)
        return image, scale_xy

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.samples[index]
        image_np, scale_xy = self._resized(index)
        present = sample.present
        kp = np.where(present[:, None], to_network_coords(sample.keypoints, scale_xy), 0.0)
        image = torch.from_numpy(image_np).permute(2, 0, 1)
        keypoints = torch.from_numpy(kp.astype(np.float32))
        weights = torch.from_numpy(present.astype(np.float32))
        if self.augment is not None:
            image, keypoints, weights = self._augment(image, keypoints, weights)
        image, keypoints = _pad_or_crop(
            image, keypoints, weights, self.size, self.rng, self.augment
        )
        height, width = self.size
        inside = (
            (keypoints[:, 0] >= -0.5) & (keypoints[:, 0] <= width - 0.5)
            & (keypoints[:, 1] >= -0.5) & (keypoints[:, 1] <= height - 0.5)
        )
        weights = weights * inside.float()
        keypoints = torch.where(weights[:, None] > 0, keypoints, torch.zeros_like(keypoints))
        return {
            "image": image.contiguous(),
            "keypoints": keypoints,
            "weights": weights,
            "scale_xy": torch.from_numpy(scale_xy),
            "index": torch.tensor(index),
        }

    def _augment(
        self, image: torch.Tensor, keypoints: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flip (swapping left/right pairs), affine, brightness/contrast, blur."""
        cfg, rng = self.augment, self.rng
        assert cfg is not None
        h, w = image.shape[-2:]
        if cfg.flip_pairs and rng.random() < cfg.flip_p:
            image, keypoints, weights = flip_horizontal(image, keypoints, weights, cfg.flip_pairs)
        angle = float(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
        scale = float(np.exp(rng.uniform(*np.log(cfg.scale_range))))
        tx, ty = (rng.uniform(-cfg.translate_frac, cfg.translate_frac, 2) * (w, h)).round()
        # torchvision transforms images with pixel corners at integers but keypoints as given:
        # shift to the corner convention and back so both move identically.
        points = tv_tensors.KeyPoints(keypoints + 0.5, canvas_size=(h, w))
        affine = {"angle": angle, "translate": [int(tx), int(ty)], "scale": scale, "shear": [0.0]}
        image = F.affine(
            tv_tensors.Image(image), **affine, interpolation=F.InterpolationMode.BILINEAR
        )
        keypoints = F.affine(points, **affine).as_subclass(torch.Tensor) - 0.5
        brightness = float(rng.uniform(1 - cfg.brightness, 1 + cfg.brightness))
        image = F.adjust_brightness(image, brightness)
        image = F.adjust_contrast(image, float(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)))
        if rng.random() < cfg.blur_p:
            sigma = float(rng.uniform(*cfg.blur_sigma))
            kernel = 2 * math.ceil(2 * sigma) + 1
            image = F.gaussian_blur(image, [kernel, kernel], [sigma, sigma])
        return image.as_subclass(torch.Tensor), keypoints, weights


def flip_horizontal(
    image: torch.Tensor,
    keypoints: torch.Tensor,
    weights: torch.Tensor,
    pairs: Sequence[tuple[int, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mirror image (3, H, W) and keypoints (K, 2), then swap each (left, right) pair's rows."""
    h, w = image.shape[-2:]
    image = F.horizontal_flip(tv_tensors.Image(image)).as_subclass(torch.Tensor)
    points = F.horizontal_flip(tv_tensors.KeyPoints(keypoints, canvas_size=(h, w)))
    keypoints = points.as_subclass(torch.Tensor).clone()
    order = list(range(keypoints.shape[0]))
    for left, right in pairs:
        order[left], order[right] = right, left
    return image, keypoints[order], weights[order]


def _pad_or_crop(
    image: torch.Tensor,
    keypoints: torch.Tensor,
    weights: torch.Tensor,
    size: tuple[int, int],
    rng: np.random.Generator,
    augment: AugmentConfig | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad bottom/right up to `size`, then crop to it.

    When augmenting, the crop is centred on the labeled points' centroid, jittered by up to
    `crop_jitter` of the crop size (a crop far from the animal would teach little per step),
    except for a `crop_random_p` share of crops placed anywhere: without those the network never
    sees the far background and fires on it at inference (measured: gross outliers on openfield).
    """
    height, width = size
    h, w = image.shape[-2:]
    if h < height or w < width:
        image = F.pad(image, [0, 0, max(0, width - w), max(0, height - h)], fill=0)
        h, w = image.shape[-2:]
    if (h, w) != (height, width):
        top = left = 0
        if augment is not None:
            present = weights > 0
            if present.any() and rng.random() >= augment.crop_random_p:
                cx, cy = keypoints[present].mean(dim=0).tolist()
            else:
                cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            jx, jy = rng.uniform(-augment.crop_jitter, augment.crop_jitter, 2) * (width, height)
            left = int(np.clip(round(cx + jx - width / 2), 0, w - width))
            top = int(np.clip(round(cy + jy - height / 2), 0, h - height))
        image = image[:, top : top + height, left : left + width]
        keypoints = keypoints - torch.tensor([left, top], dtype=keypoints.dtype)
    return image, keypoints

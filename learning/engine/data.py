"""Samples, image loading and the augmenting training dataset.

Coordinate convention everywhere in the engine: pixel centres sit at integer coordinates, so a
W-pixel-wide image spans x in [-0.5, W - 0.5]. Resizing by `s` maps x to (x + 0.5) * s - 0.5.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from torch.utils.data import Dataset
from torchvision import tv_tensors

from learning.engine.config import AugmentConfig, ModelConfig

logger = logging.getLogger(__name__)

NOT_PRESENT, OCCLUDED, VISIBLE = 0, 1, 2
SIZE_MULTIPLE = 32
WINDOW_FACTOR = 1.75  # augmentation window / training crop (covers 25 deg and 0.8x zoom-out)


@dataclass(frozen=True, eq=False)
class PoseSample:
    """One labeled image.

    keypoints: float32 (K, 2) x, y in original-image pixels, NaN where not present.
    visibility: int8 (K,): 0 not present, 1 occluded but estimated, 2 visible.
    weights: float32 (K,) loss weight of each present point (None: 1); a teacher's
    pseudo-labels carry its confidence here (`engine.distill`).
    channels: int (S,) or None. None (single-animal): row k is output channel k. Otherwise the
    S rows are "slots" (e.g. one per animal and part), each drawn into output channel
    `channels[s]`, so a channel can hold several peaks (`targets.make_targets`); every channel
    of such a sample is trained, an empty one as "nothing here" (multi-animal models).
    """

    image_path: str
    keypoints: np.ndarray
    visibility: np.ndarray
    weights: np.ndarray | None = None
    channels: np.ndarray | None = None

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


def pad_to_multiple(images: Sequence[np.ndarray], multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """uint8 (B, H, W, 3) batch of (H_i, W_i, 3) images, zero-padded at the bottom/right to the
    largest height and width rounded up to `multiple` (what the network's strides need)."""
    height = round_up(max(im.shape[0] for im in images), multiple)
    width = round_up(max(im.shape[1] for im in images), multiple)
    batch = np.zeros((len(images), height, width, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        batch[i, : image.shape[0], : image.shape[1]] = image
    return batch


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
    absent); weights float32 (K,) = 1 for labeled points inside the image (occluded included;
    the sample's own weight where it has one), 0 for not-present ones; scale_xy float32 (2,);
    index int64 ().

    Samples with `channels` (all or none of them) are padded to the most slots of any sample
    (padding has weight 0) and each item also holds channels int64 (S,). Horizontal flips would
    have to remap their channels, so `flip_pairs` are refused for them.
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
        merged = [s.channels is not None for s in self.samples]
        self.slots = 0
        if any(merged):
            if not all(merged):
                raise ValueError("samples with and without channels cannot be mixed")
            if self.augment is not None and self.augment.flip_pairs:
                raise ValueError("flip_pairs are not supported for samples with channels")
            self.slots = max(1, max(len(s.keypoints) for s in self.samples))

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
        keypoints = torch.from_numpy(kp.astype(np.float32))
        point_weights = present.astype(np.float32)
        if sample.weights is not None:
            point_weights = point_weights * sample.weights.astype(np.float32)
        weights = torch.from_numpy(point_weights)
        if self.augment is not None:
            image, keypoints, weights = self._augmented_crop(image_np, keypoints, weights)
        else:
            window = cut_window(image_np, 0, 0, self.size[1], self.size[0])
            image = torch.from_numpy(window).permute(2, 0, 1)
        height, width = self.size
        inside = (
            (keypoints[:, 0] >= -0.5) & (keypoints[:, 0] <= width - 0.5)
            & (keypoints[:, 1] >= -0.5) & (keypoints[:, 1] <= height - 0.5)
        )
        weights = weights * inside.float()
        keypoints = torch.where(weights[:, None] > 0, keypoints, torch.zeros_like(keypoints))
        item = {
            "image": image.contiguous(),
            "keypoints": keypoints,
            "weights": weights,
            "scale_xy": torch.from_numpy(scale_xy),
            "index": torch.tensor(index),
        }
        if self.slots:
            item.update(_padded_slots(keypoints, weights, sample.channels, self.slots))
        return item

    def _crop_center(self, keypoints: torch.Tensor, weights: torch.Tensor, h: int, w: int
                     ) -> tuple[float, float]:
        """Where the training crop is centred (network-input pixels).

        On the labeled points' centroid, moved by up to `crop_jitter` of the crop size (a crop
        far from the animal would teach little per step), except for a `crop_random_p` share
        placed anywhere: without those the network never sees the far background and fires on
        it at inference (measured: gross outliers on openfield). Crops stay inside the image; a
        crop as large as the image keeps it at the top-left, padded like inference pads.
        """
        cfg, rng = self.augment, self.rng
        assert cfg is not None
        height, width = self.size
        present = weights > 0
        if present.any() and rng.random() >= cfg.crop_random_p:
            cx, cy = keypoints[present].mean(dim=0).tolist()
            jx, jy = rng.uniform(-cfg.crop_jitter, cfg.crop_jitter, 2) * (width, height)
            cx, cy = cx + jx, cy + jy
        else:
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)

        def clamp(c: float, side: int, extent: int) -> float:
            return side / 2 if side >= extent else min(max(c, side / 2), extent - side / 2)

        return clamp(cx, width, w), clamp(cy, height, h)

    def _augmented_crop(
        self, image_np: np.ndarray, keypoints: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cut a window around the crop centre, warp it, crop, then adjust the crop's pixels.

        The window is WINDOW_FACTOR times the crop, enough for the rotations and zoom-outs of
        the augmentation, so the geometric warp (the costly step) touches a fixed number of
        pixels whatever the frame size, and colour and blur only the crop's.
        """
        height, width = self.size
        cx, cy = self._crop_center(keypoints, weights, *image_np.shape[:2])
        win_h, win_w = (side + 2 * math.ceil(side * (WINDOW_FACTOR - 1) / 2)
                        for side in (height, width))
        left, top = round(cx - win_w / 2), round(cy - win_h / 2)
        window = torch.from_numpy(cut_window(image_np, left, top, win_w, win_h)).permute(2, 0, 1)
        keypoints = keypoints - torch.tensor([left, top], dtype=keypoints.dtype)
        window, keypoints, weights = self._warp(window, keypoints, weights)
        dx, dy = (win_w - width) // 2, (win_h - height) // 2
        image = window[:, dy : dy + height, dx : dx + width]
        keypoints = keypoints - torch.tensor([dx, dy], dtype=keypoints.dtype)
        return self._photometric(image), keypoints, weights

    def _warp(
        self, image: torch.Tensor, keypoints: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flip (swapping left/right pairs) and a random affine about the image centre."""
        cfg, rng = self.augment, self.rng
        assert cfg is not None
        h, w = image.shape[-2:]
        if cfg.flip_pairs and rng.random() < cfg.flip_p:
            image, keypoints, weights = flip_horizontal(image, keypoints, weights, cfg.flip_pairs)
        angle = float(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
        scale = float(np.exp(rng.uniform(*np.log(cfg.scale_range))))
        tx, ty = (rng.uniform(-cfg.translate_frac, cfg.translate_frac, 2)
                  * (self.size[1], self.size[0])).round()
        # torchvision transforms images with pixel corners at integers but keypoints as given:
        # shift to the corner convention and back so both move identically.
        points = tv_tensors.KeyPoints(keypoints + 0.5, canvas_size=(h, w))
        affine = {"angle": angle, "translate": [int(tx), int(ty)], "scale": scale, "shear": [0.0]}
        image = F.affine(
            tv_tensors.Image(image), **affine, interpolation=F.InterpolationMode.BILINEAR
        )
        keypoints = F.affine(points, **affine).as_subclass(torch.Tensor) - 0.5
        return image.as_subclass(torch.Tensor), keypoints, weights

    def _photometric(self, image: torch.Tensor) -> torch.Tensor:
        """Brightness, contrast, blur."""
        cfg, rng = self.augment, self.rng
        assert cfg is not None
        image = tv_tensors.Image(image)
        image = F.adjust_brightness(image, float(rng.uniform(1 - cfg.brightness,
                                                             1 + cfg.brightness)))
        image = F.adjust_contrast(image, float(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)))
        if rng.random() < cfg.blur_p:
            sigma = float(rng.uniform(*cfg.blur_sigma))
            kernel = 2 * math.ceil(2 * sigma) + 1
            image = F.gaussian_blur(image, [kernel, kernel], [sigma, sigma])
        return image.as_subclass(torch.Tensor)


def _padded_slots(keypoints: torch.Tensor, weights: torch.Tensor, channels: np.ndarray | None,
                  slots: int) -> dict[str, torch.Tensor]:
    """keypoints (slots, 2), weights (slots,) and channels int64 (slots,), zero-padded."""
    assert channels is not None
    n = keypoints.shape[0]
    padded = {"keypoints": torch.zeros(slots, 2), "weights": torch.zeros(slots),
              "channels": torch.zeros(slots, dtype=torch.int64)}
    padded["keypoints"][:n] = keypoints
    padded["weights"][:n] = weights
    padded["channels"][:n] = torch.from_numpy(np.asarray(channels, dtype=np.int64))
    return padded


def cut_window(image: np.ndarray, left: int, top: int, width: int, height: int) -> np.ndarray:
    """uint8 (height, width, C) window of `image` (H, W, C) at (left, top); zero outside it."""
    window = np.zeros((height, width, image.shape[2]), dtype=image.dtype)
    h, w = image.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + width, w), min(top + height, h)
    if x1 > x0 and y1 > y0:
        window[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return window


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


def animal_radius(samples: Sequence[PoseSample], scale: float, margin: float = 1.5) -> float:
    """Network-input pixels within which every body part of one animal lies around the parts'
    median: `margin` x the largest such distance among the labeled samples (0 without any
    sample with two labeled parts)."""
    largest = 0.0
    for sample in samples:
        points = sample.keypoints[sample.present]
        if len(points) >= 2:
            spread = np.linalg.norm(points - np.median(points, axis=0), axis=1).max()
            largest = max(largest, float(spread))
    return margin * largest * scale


def with_animal_prior(cfg: ModelConfig, samples: Sequence[PoseSample]) -> ModelConfig:
    """`cfg` with `animal_radius_px` measured on `samples` (unchanged when they cannot tell)."""
    radius = animal_radius(samples, cfg.input_scale)
    return replace(cfg, animal_radius_px=round(radius, 2)) if radius > 0 else cfg

"""Batched inference: images in original pixels in, keypoints in original pixels out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Literal, overload

import numpy as np
import torch

from learning.engine.config import ModelConfig
from learning.engine.data import (
    PoseSample,
    load_image,
    pad_to_multiple,
    resize_for_network,
    to_original_coords,
)
from learning.engine.decode import Refine, decode
from learning.engine.network import PoseNet


def _batches(items: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@torch.no_grad()
def predict_batch(
    model: PoseNet,
    cfg: ModelConfig,
    images: Sequence[np.ndarray],
    device: torch.device,
    refine: Refine = "locref",
) -> tuple[np.ndarray, np.ndarray]:
    """Predict one batch of uint8 RGB images (H_i, W_i, 3), sizes may differ.

    Returns poses float32 (N, K, 3) (x, y in original pixels, likelihood) and heatmaps
    float32 (N, K, h, w) (probabilities, padded to the batch's largest image). On CUDA the
    network runs under float16 autocast.
    """
    resized = [resize_for_network(np.asarray(im), cfg.input_scale) for im in images]
    batch = torch.from_numpy(pad_to_multiple([image for image, _ in resized]))
    x = batch.permute(0, 3, 1, 2).contiguous().to(device, non_blocking=True).float().div_(255)
    # Half precision on CUDA (scoring and evaluation batches); decoding stays float32.
    with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
        heat_logits, locref = model(x)
    heatmaps = torch.sigmoid(heat_logits.float())
    xy, likelihood = decode(cfg, heatmaps, None if locref is None else locref.float(), refine)
    scales = np.stack([s for _, s in resized])[:, None, :]  # (N, 1, 2)
    xy_orig = to_original_coords(xy.cpu().numpy(), scales)
    poses = np.concatenate([xy_orig, likelihood.cpu().numpy()[..., None]], axis=-1)
    return poses.astype(np.float32), heatmaps.cpu().numpy()


@overload
def predict_images(
    model: PoseNet, cfg: ModelConfig, images: Iterable[np.ndarray], batch_size: int = ...,
    device: str | torch.device | None = ..., *, return_heatmaps: Literal[False] = ...,
    refine: Refine = ...,
) -> np.ndarray: ...
@overload
def predict_images(
    model: PoseNet, cfg: ModelConfig, images: Iterable[np.ndarray], batch_size: int = ...,
    device: str | torch.device | None = ..., *, return_heatmaps: Literal[True],
    refine: Refine = ...,
) -> tuple[np.ndarray, list[np.ndarray]]: ...
def predict_images(
    model: PoseNet,
    cfg: ModelConfig,
    images: Iterable[np.ndarray],
    batch_size: int = 16,
    device: str | torch.device | None = None,
    *,
    return_heatmaps: bool = False,
    refine: Refine = "locref",
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """Poses float32 (N, K, 3): x, y in original-image pixels and likelihood in [0, 1].

    images: uint8 RGB arrays (H, W, 3), any sizes, consumed lazily `batch_size` at a time.
    device: defaults to where the model's weights are. With `return_heatmaps`, also returns one
    float32 (K, h, w) probability map per image (cropped to that image) for uncertainty scoring.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    poses: list[np.ndarray] = []
    maps: list[np.ndarray] = []
    for batch in _batches(images, batch_size):
        batch_poses, batch_maps = predict_batch(model, cfg, batch, device, refine)
        poses.append(batch_poses)
        if return_heatmaps:
            for image, heatmap in zip(batch, batch_maps, strict=True):
                h = -(-round(image.shape[0] * cfg.input_scale) // cfg.heatmap_stride)
                w = -(-round(image.shape[1] * cfg.input_scale) // cfg.heatmap_stride)
                maps.append(heatmap[:, :h, :w])
    k = cfg.num_keypoints
    result = np.concatenate(poses) if poses else np.zeros((0, k, 3), dtype=np.float32)
    return (result, maps) if return_heatmaps else result


def predict_samples(
    model: PoseNet,
    cfg: ModelConfig,
    samples: Sequence[PoseSample],
    batch_size: int = 16,
    device: str | torch.device | None = None,
    refine: Refine = "locref",
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted poses (N, K, 3), ground truth (N, K, 2) with NaN where not present)."""
    images = (load_image(s.image_path) for s in samples)
    pred = predict_images(model, cfg, images, batch_size, device, refine=refine)
    gt = np.stack([np.where(s.present[:, None], s.keypoints, np.nan) for s in samples])
    return pred, gt.astype(np.float32)

"""Scoring forward passes: poses, heatmaps and pooled backbone embeddings from ONE forward,
test-time augmentation, and a streaming scorer that never holds more than one batch of images.

PoseNet exposes its backbone as `model.backbone` (a module returning the stride 4/8/16/32
feature list); a forward hook on it captures the stride-32 features during the ordinary
prediction forward, so embeddings cost no extra network pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import cv2
import numpy as np
import torch

from learning.engine.config import ModelConfig
from learning.engine.network import PoseNet
from learning.engine.predict import predict_batch
from learning.engine.uncertainty import (
    SkeletonStats,
    confidence,
    heatmap_entropy,
    model_disagreement,
    second_peak_ratio,
    skeleton_implausibility,
    tta_disagreement,
    unflip_poses,
    unscale_poses,
)

ZOOM_FACTOR = 0.9  # the "small affine" test-time augmentation: zoom out 10 % about the centre


@dataclass
class BatchOutput:
    """poses float32 (B, K, 3) original pixels + likelihood; heatmaps B x (K, h, w) cropped to
    each image; embeddings float32 (B, C) L2-normalised mean-pooled stride-32 features."""

    poses: np.ndarray
    heatmaps: list[np.ndarray]
    embeddings: np.ndarray


def _device_of(model: PoseNet, device: str | torch.device | None) -> torch.device:
    return torch.device(device) if device is not None else next(model.parameters()).device


@torch.no_grad()
def forward_with_embeddings(model: PoseNet, cfg: ModelConfig, images: Sequence[np.ndarray],
                            device: str | torch.device | None = None) -> BatchOutput:
    """One batch of uint8 RGB images (H_i, W_i, 3) -> poses, heatmaps and embeddings."""
    dev = _device_of(model, device)
    captured: list[torch.Tensor] = []
    handle = model.backbone.register_forward_hook(
        lambda _m, _i, out: captured.append(out[-1]))
    try:
        poses, maps = predict_batch(model, cfg, images, dev)
    finally:
        handle.remove()
    feats = captured[-1].float()  # (B, C, H/32, W/32) of the padded batch
    pooled = []
    for i, image in enumerate(images):
        h = max(1, math.ceil(round(image.shape[0] * cfg.input_scale) / 32))
        w = max(1, math.ceil(round(image.shape[1] * cfg.input_scale) / 32))
        pooled.append(feats[i, :, :h, :w].mean(dim=(1, 2)))
    emb = torch.stack(pooled).cpu().numpy().astype(np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    heatmaps = []
    for image, heatmap in zip(images, maps, strict=True):
        hh = -(-round(image.shape[0] * cfg.input_scale) // cfg.heatmap_stride)
        ww = -(-round(image.shape[1] * cfg.input_scale) // cfg.heatmap_stride)
        heatmaps.append(heatmap[:, :hh, :ww])
    return BatchOutput(poses, heatmaps, emb)


def _sizes(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([im.shape[1] for im in images], dtype=np.float64),
            np.array([im.shape[0] for im in images], dtype=np.float64))


@torch.no_grad()
def flip_predictions(model: PoseNet, cfg: ModelConfig, images: Sequence[np.ndarray],
                     flip_pairs: Sequence[tuple[int, int]],
                     device: str | torch.device | None = None) -> np.ndarray:
    """(B, K, 3) predictions on mirrored images, mapped back (left/right pairs swapped)."""
    flipped = [np.ascontiguousarray(im[:, ::-1]) for im in images]
    poses, _ = predict_batch(model, cfg, flipped, _device_of(model, device))
    return unflip_poses(poses, _sizes(images)[0], flip_pairs)


@torch.no_grad()
def zoom_predictions(model: PoseNet, cfg: ModelConfig, images: Sequence[np.ndarray],
                     factor: float = ZOOM_FACTOR,
                     device: str | torch.device | None = None) -> np.ndarray:
    """(B, K, 3) predictions on images zoomed by `factor` about their centre, mapped back."""
    zoomed = []
    for im in images:
        h, w = im.shape[:2]
        cx, cy = (w - 1) / 2, (h - 1) / 2
        matrix = np.array([[factor, 0, (1 - factor) * cx], [0, factor, (1 - factor) * cy]])
        zoomed.append(cv2.warpAffine(im, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT_101))
    poses, _ = predict_batch(model, cfg, zoomed, _device_of(model, device))
    widths, heights = _sizes(images)
    return unscale_poses(poses, factor, widths, heights)


@dataclass
class ScoredCandidates:
    """What the streaming scorer keeps per candidate (no images).

    keys: caller's ids in input order; poses float32 (N, K, 3); embeddings float32 (N, C);
    components: name -> float64 (N,) raw scores (NaN where a costly score was not computed).
    """

    keys: list[Hashable]
    poses: np.ndarray
    embeddings: np.ndarray
    components: dict[str, np.ndarray]


@dataclass
class StreamScorer:
    """Scores images batch by batch, keeping only small per-frame results.

    Cheap scores (confidence, heatmap entropy, second peak, skeleton) are computed for every
    frame from the one forward pass. The costly ones (flip and zoom TTA, disagreement with
    `previous` model: one extra forward each) run only on frames whose cheap provisional score
    is above the running (1 - extras_fraction) quantile of the scores seen so far, i.e. on about
    `extras_fraction` of the frames (1.0: all); elsewhere they are NaN (neutral when combined).
    That keeps the cost of scoring a fixed small share above plain inference. `max_held`
    records the most images held at once.
    """

    model: PoseNet
    cfg: ModelConfig
    flip_pairs: Sequence[tuple[int, int]] = ()
    skeleton: SkeletonStats | None = None
    previous: tuple[PoseNet, ModelConfig] | None = None
    extras_fraction: float = 0.05
    tta: bool = True
    zoom: bool = True
    device: str | torch.device | None = None
    max_held: int = 0
    forward_s: float = 0.0
    extras_frames: int = 0
    _keys: list[Hashable] = field(default_factory=list)
    _poses: list[np.ndarray] = field(default_factory=list)
    _emb: list[np.ndarray] = field(default_factory=list)
    _comp: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _seen: list[float] = field(default_factory=list)

    def add_batch(self, keys: Sequence[Hashable], images: Sequence[np.ndarray]) -> None:
        """Score one batch of uint8 RGB images (H, W, 3); the images are not kept."""
        self.max_held = max(self.max_held, len(images))
        start = time.perf_counter()
        out = forward_with_embeddings(self.model, self.cfg, images, self.device)
        self.forward_s += time.perf_counter() - start
        comps: dict[str, np.ndarray] = {
            "confidence": confidence(out.poses),
            "entropy": heatmap_entropy(out.heatmaps),
            "peaks": second_peak_ratio(out.heatmaps),
        }
        if self.skeleton is not None:
            comps["skeleton"] = skeleton_implausibility(out.poses, self.skeleton)
        provisional = (comps["confidence"] + comps["entropy"] + comps["peaks"]) / 3
        chosen = self._enters_top(provisional)
        extra_names = (["tta"] if self.tta else []) + (
            ["disagreement"] if self.previous is not None else [])
        for name in extra_names:
            comps[name] = np.full(len(images), np.nan)
        if chosen and extra_names:
            self.extras_frames += len(chosen)
            sub = [images[i] for i in chosen]
            self._extras(sub, out.poses[chosen], comps, chosen)
        self._keys.extend(keys)
        self._poses.append(out.poses)
        self._emb.append(out.embeddings)
        for name, values in comps.items():
            self._comp.setdefault(name, []).append(values)

    def _enters_top(self, provisional: np.ndarray) -> list[int]:
        if self.extras_fraction >= 1.0:
            return list(range(len(provisional)))
        self._seen.extend(provisional.tolist())
        threshold = float(np.quantile(self._seen, 1.0 - self.extras_fraction))
        return [i for i, value in enumerate(provisional.tolist()) if value > threshold]

    def _extras(self, images: list[np.ndarray], poses: np.ndarray,
                comps: dict[str, np.ndarray], rows: list[int]) -> None:
        if self.tta:
            augmented = [flip_predictions(self.model, self.cfg, images, self.flip_pairs,
                                          self.device)]
            if self.zoom:
                augmented.append(zoom_predictions(self.model, self.cfg, images,
                                                  device=self.device))
            comps["tta"][rows] = tta_disagreement(poses, augmented)
        if self.previous is not None:
            prev_model, prev_cfg = self.previous
            prev_poses, _ = predict_batch(prev_model, prev_cfg, images,
                                          _device_of(prev_model, self.device))
            comps["disagreement"][rows] = model_disagreement(poses, prev_poses)

    def result(self) -> ScoredCandidates:
        """Everything scored so far, in input order."""
        k = self.cfg.num_keypoints
        return ScoredCandidates(
            keys=list(self._keys),
            poses=np.concatenate(self._poses) if self._poses else np.zeros((0, k, 3), np.float32),
            embeddings=np.concatenate(self._emb) if self._emb else np.zeros((0, 1), np.float32),
            components={name: np.concatenate(v) for name, v in self._comp.items()},
        )


def score_stream(scorer: StreamScorer, items: Iterable[tuple[Hashable, np.ndarray]],
                 batch_size: int = 16, progress: Any = None) -> ScoredCandidates:
    """Feed (key, RGB image) pairs to `scorer` `batch_size` at a time; consumed lazily.

    `progress(n_done)` is called after each batch.
    """
    iterator = iter(items)
    done = 0
    while batch := list(islice(iterator, batch_size)):
        keys = [key for key, _ in batch]
        images = [image for _, image in batch]
        del batch
        scorer.add_batch(keys, images)
        done += len(keys)
        del images
        if progress is not None:
            progress(done)
    return scorer.result()

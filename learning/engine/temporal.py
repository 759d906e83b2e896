"""Temporal consistency on unlabeled consecutive frames (Lightning Pose's temporal loss).

A body part moves little from one video frame to the next, so a network's predictions on
frames t and t+1 should agree within a few pixels: a jump larger than `margin_px` is
penalised. The frames need no labels, and every project has thousands of them. Predictions
are made differentiable by a spatial softmax over each heatmap (the expected cell centre plus
the expected locref offset); each part's penalty is weighted by its confidence in the pair
(the smaller peak, not differentiated), so a part the network does not see pulls nothing.

Both frames of a pair are cut at the same random window of the training size, so the window
does not move the points between them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn
from torch.utils.data import DataLoader, Dataset

from learning.engine.data import cut_window, pad_to_multiple, resize_for_network
from learning.engine.targets import cell_centers

MAX_BYTES = 256 * 2**20  # frames of a pair set kept in memory, at network scale


class FramePairs(Dataset[dict[str, torch.Tensor]]):
    """Pairs of consecutive RGB frames at network scale (as many as fit in MAX_BYTES), cut to
    `size` (height, width) at a random window, the same in both frames. Items: a, b uint8
    (3, H, W)."""

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], scale: float,
                 size: tuple[int, int], seed: int = 0) -> None:
        if not pairs:
            raise ValueError("no frame pairs")
        frames: list[np.ndarray] = []
        kept_bytes = 0
        for pair in pairs:
            resized = [resize_for_network(np.asarray(f), scale)[0] for f in pair]
            frames += resized
            kept_bytes += sum(f.nbytes for f in resized)
            if kept_bytes >= MAX_BYTES:
                break
        self.frames = pad_to_multiple(frames)
        self.size = size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.frames) // 2

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        height, width = self.size
        frame_h, frame_w = self.frames.shape[1:3]
        top = int(self.rng.integers(0, max(1, frame_h - height + 1)))
        left = int(self.rng.integers(0, max(1, frame_w - width + 1)))
        a, b = (cut_window(self.frames[2 * index + i], left, top, width, height) for i in (0, 1))
        return {"a": torch.from_numpy(a).permute(2, 0, 1).contiguous(),
                "b": torch.from_numpy(b).permute(2, 0, 1).contiguous()}


def endless_pairs(pairs: FramePairs, batch_size: int, seed: int
                  ) -> Iterator[dict[str, torch.Tensor]]:
    """Shuffled batches of `pairs`, epoch after epoch, for as long as training asks."""
    loader = DataLoader(pairs, batch_size=min(batch_size, len(pairs)), shuffle=True,
                        drop_last=True, generator=torch.Generator().manual_seed(seed))
    while True:
        yield from loader


@contextlib.contextmanager
def frozen_norm_statistics(model: nn.Module) -> Iterator[None]:
    """Forward passes inside leave every batch norm's running statistics as they were (they
    still normalise by the batch's own in training mode). The unlabeled frames are whole
    random windows, not crops around the animal: had they entered the running statistics,
    the network would evaluate on statistics of other images (measured on openfield: test
    error 213 px instead of 114 px after 20 steps, with a temporal loss that was zero)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone())
             for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved, strict=True):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def soft_keypoints(heat_logits: torch.Tensor, locref: torch.Tensor | None, stride: int,
                   locref_scale_px: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable keypoints (B, K, 2) in network-input pixels and their confidence (B, K)
    (the heatmap's peak probability, detached) from heatmap logits (B, K, h, w) and locref
    (B, K, 2, h, w) or None: the softmax-weighted mean of cell centres and offsets."""
    b, k, h, w = heat_logits.shape
    weights = torch.softmax(heat_logits.float().reshape(b, k, h * w), dim=-1)
    xs = cell_centers(w, stride, heat_logits.device).repeat(h)
    ys = cell_centers(h, stride, heat_logits.device).repeat_interleave(w)
    x, y = weights @ xs, weights @ ys
    if locref is not None:
        offsets = locref.float().reshape(b, k, 2, h * w)
        x = x + (weights * offsets[:, :, 0]).sum(-1) * locref_scale_px
        y = y + (weights * offsets[:, :, 1]).sum(-1) * locref_scale_px
    confidence = torch.sigmoid(heat_logits.detach().float().amax(dim=(2, 3)))
    return torch.stack((x, y), dim=-1), confidence


def temporal_loss(xy_a: torch.Tensor, xy_b: torch.Tensor, conf_a: torch.Tensor,
                  conf_b: torch.Tensor, margin_px: float) -> torch.Tensor:
    """Confidence-weighted mean of max(0, |a - b| - margin_px) over parts and pairs (pixels)."""
    distance = torch.sqrt(((xy_a - xy_b) ** 2).sum(-1) + 1e-12)
    weight = torch.minimum(conf_a, conf_b)
    return (weight * nnf.relu(distance - margin_px)).sum() / weight.sum().clamp_min(1e-6)

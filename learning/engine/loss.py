"""The training loss: heatmap BCE plus masked locref Huber, ignoring not-present keypoints."""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from learning.engine.targets import Targets


def pose_loss(
    heatmap_logits: torch.Tensor,
    locref: torch.Tensor | None,
    targets: Targets,
    locref_weight: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Scalar loss and its parts.

    heatmap_logits (B, K, h, w); locref (B, K, 2, h, w) or None. Each keypoint's heatmap BCE is
    averaged over its map and weighted by targets.weights (B, K), so keypoints with weight 0
    (not present, or pushed out of the image by augmentation) contribute nothing; occluded points
    keep weight 1. The locref term only covers cells within the locref radius of present points.
    """
    bce = nnf.binary_cross_entropy_with_logits(
        heatmap_logits.float(), targets.heatmaps, reduction="none"
    ).mean(dim=(2, 3))
    heat = (bce * targets.weights).sum() / targets.weights.sum().clamp_min(1.0)
    total = heat
    parts = {"heatmap": float(heat.detach())}
    if locref is not None and locref_weight > 0:
        mask = targets.locref_mask[:, :, None]
        huber = nnf.huber_loss(locref.float() * mask, targets.locref, reduction="sum", delta=1.0)
        loc = huber / (2 * mask.sum()).clamp_min(1.0)
        total = total + locref_weight * loc
        parts["locref"] = float(loc.detach())
    return total, parts

"""Training targets: Gaussian heatmaps and location-refinement (locref) offsets, vectorized."""

from __future__ import annotations

from dataclasses import dataclass

import torch

TARGET_FLOOR = 1e-6


@dataclass(frozen=True)
class Targets:
    """heatmaps (B, K, h, w) in [0, 1]; locref (B, K, 2, h, w) offsets in units of
    `locref_scale_px`; locref_mask (B, K, h, w) 1 near present keypoints; weights (B, K)."""

    heatmaps: torch.Tensor
    locref: torch.Tensor
    locref_mask: torch.Tensor
    weights: torch.Tensor


def cell_centers(n: int, stride: int, device: torch.device | None = None) -> torch.Tensor:
    """float32 (n,): network-input pixel coordinate of each heatmap cell's centre."""
    return torch.arange(n, dtype=torch.float32, device=device) * stride + (stride - 1) / 2


def make_targets(
    keypoints: torch.Tensor,
    weights: torch.Tensor,
    heatmap_hw: tuple[int, int],
    stride: int,
    sigma_px: float,
    locref_radius_px: float,
    locref_scale_px: float,
) -> Targets:
    """Targets for keypoints (B, K, 2) in network-input pixels with weights (B, K).

    The heatmap is exp(-d^2 / 2 sigma^2) of the distance d from each cell centre to the keypoint;
    the locref offset is (keypoint - cell centre) / locref_scale_px within `locref_radius_px`.
    Points with weight 0 get all-zero targets (and zero loss weight).
    """
    h, w = heatmap_hw
    device = keypoints.device
    xs = cell_centers(w, stride, device)
    ys = cell_centers(h, stride, device)
    dx = keypoints[..., 0, None] - xs  # (B, K, w)
    dy = keypoints[..., 1, None] - ys  # (B, K, h)
    dist2 = dy[..., :, None] ** 2 + dx[..., None, :] ** 2  # (B, K, h, w)
    present = (weights > 0).to(keypoints.dtype)[..., None, None]
    heatmaps = torch.exp(-dist2 / (2 * sigma_px**2)) * present
    # Far-away cells would hold denormal floats, which CPUs process slowly.
    heatmaps = torch.where(heatmaps < TARGET_FLOOR, 0.0, heatmaps)
    locref_mask = (dist2 <= locref_radius_px**2).to(keypoints.dtype) * present
    locref = torch.stack(
        (dx[..., None, :].expand(-1, -1, h, -1), dy[..., :, None].expand(-1, -1, -1, w)), dim=2
    ) / locref_scale_px
    return Targets(heatmaps, locref * locref_mask[:, :, None], locref_mask, weights)

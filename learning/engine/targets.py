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
    channels: torch.Tensor | None = None,
    num_channels: int | None = None,
) -> Targets:
    """Targets for keypoints (B, K, 2) in network-input pixels with weights (B, K).

    The heatmap is exp(-d^2 / 2 sigma^2) of the distance d from each cell centre to the keypoint;
    the locref offset is (keypoint - cell centre) / locref_scale_px within `locref_radius_px`.
    Points with weight 0 get all-zero targets (and zero loss weight).

    With `channels` (B, S) int64, the K rows are slots merged into `num_channels` output channels
    (`merge_slots`): one peak per slot, several per channel.
    """
    if channels is not None:
        if num_channels is None:
            raise ValueError("num_channels is required with channels")
        slots = make_targets(keypoints, weights, heatmap_hw, stride, sigma_px, locref_radius_px,
                             locref_scale_px)
        return merge_slots(slots, channels, num_channels)
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


def merge_slots(slots: Targets, channels: torch.Tensor, num_channels: int) -> Targets:
    """Per-slot targets (B, S, ...) -> per-channel targets (B, C, ...), slot s into channel
    channels[b, s] (B, S).

    A channel's heatmap is the maximum over its slots (the nearest slot's Gaussian), its locref
    the offset to the nearest slot (averaged over exact ties) where a slot is within the locref
    radius. Every channel gets weight 1: a channel without a slot teaches "nothing here", which
    is what a frame with fewer animals (or a part absent from every animal) shows.
    """
    b, s, h, w = slots.heatmaps.shape
    index = channels.to(slots.heatmaps.device)[:, :, None].expand(b, s, h * w)
    heat_slots = slots.heatmaps.reshape(b, s, h * w)
    heat = heat_slots.new_zeros(b, num_channels, h * w).scatter_reduce(
        1, index, heat_slots, reduce="amax", include_self=True)
    # The nearest slot is the one with the highest heatmap value; only cells within the locref
    # radius of some slot count (elsewhere locref stays 0 and is masked out of the loss).
    mask_slots = slots.locref_mask.reshape(b, s, h * w)
    nearest = mask_slots * (heat_slots >= torch.gather(heat, 1, index)).to(heat_slots.dtype)
    count = heat_slots.new_zeros(b, num_channels, h * w).scatter_add(1, index, nearest)
    loc_slots = slots.locref.reshape(b, s, 2, h * w) * nearest[:, :, None]
    loc = loc_slots.new_zeros(b, num_channels, 2, h * w).scatter_add(
        1, index[:, :, None].expand(b, s, 2, h * w), loc_slots)
    loc = loc / count.clamp_min(1.0)[:, :, None]
    return Targets(
        heatmaps=heat.reshape(b, num_channels, h, w),
        locref=loc.reshape(b, num_channels, 2, h, w),
        locref_mask=(count > 0).to(heat.dtype).reshape(b, num_channels, h, w),
        weights=torch.ones(b, num_channels, dtype=slots.heatmaps.dtype,
                           device=slots.heatmaps.device),
    )

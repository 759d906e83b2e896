"""Heatmaps (+ locref offsets) -> keypoint coordinates and likelihoods, vectorized."""

from __future__ import annotations

from typing import Literal

import torch

from learning.engine.config import ModelConfig
from learning.engine.targets import cell_centers

Refine = Literal["locref", "quadratic", "none"]


def decode_heatmaps(
    heatmaps: torch.Tensor,
    locref: torch.Tensor | None,
    stride: int,
    locref_scale_px: float,
    refine: Refine = "locref",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Peak of each heatmap, refined to sub-pixel precision.

    heatmaps: (N, K, h, w) probabilities in [0, 1]; locref: (N, K, 2, h, w) or None.
    Returns xy (N, K, 2) in network-input pixels and likelihood (N, K) = the peak value.
    `refine`: "locref" adds the predicted offset at the peak (falls back to "quadratic" when there
    is no locref); "quadratic" fits a parabola to the log-heatmap around the peak per axis (exact
    for a Gaussian); "none" returns the peak cell centre.
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    likelihood, index = flat.max(dim=-1)
    iy, ix = index // w, index % w
    x = cell_centers(w, stride, heatmaps.device)[ix]
    y = cell_centers(h, stride, heatmaps.device)[iy]
    if refine == "locref" and locref is not None:
        offsets = locref.reshape(n, k, 2, h * w)
        picked = torch.gather(offsets, 3, index[:, :, None, None].expand(n, k, 2, 1))[..., 0]
        x = x + picked[..., 0] * locref_scale_px
        y = y + picked[..., 1] * locref_scale_px
    elif refine != "none":
        x = x + stride * _parabola_offset(flat, index, ix, 1, w)
        y = y + stride * _parabola_offset(flat, index, iy, w, h)
    return torch.stack((x, y), dim=-1), likelihood.clamp(0.0, 1.0)


def _parabola_offset(
    flat: torch.Tensor, index: torch.Tensor, pos: torch.Tensor, step: int, size: int
) -> torch.Tensor:
    """Sub-cell offset (N, K) in [-0.5, 0.5] of the log-parabola vertex through peak +- 1 cell."""
    lo = torch.gather(flat, 2, (index - step * (pos > 0).long())[..., None])[..., 0]
    hi = torch.gather(flat, 2, (index + step * (pos < size - 1).long())[..., None])[..., 0]
    mid = torch.gather(flat, 2, index[..., None])[..., 0]
    lo, mid, hi = (torch.log(v.clamp_min(1e-10)) for v in (lo, mid, hi))
    curvature = lo - 2 * mid + hi
    offset = torch.where(curvature < 0, 0.5 * (lo - hi) / curvature.clamp(max=-1e-12), 0.0)
    return offset.clamp(-0.5, 0.5)


def within_animal(
    heatmaps: torch.Tensor,
    locref: torch.Tensor | None,
    stride: int,
    locref_scale_px: float,
    radius_px: float,
    refine: Refine = "locref",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`decode_heatmaps`, with each peak taken within `radius_px` (network-input pixels) of the
    animal's centre: the coordinate-wise median of the unrestricted peaks.

    A single animal's body parts lie within its extent, so a far-off false peak (a background
    spot that outscores the true one) cannot be chosen; a peak already inside the disc is
    unchanged, as the disc's maximum is then the global one.
    """
    xy, _ = decode_heatmaps(heatmaps, locref, stride, locref_scale_px, refine)
    center = xy.median(dim=1).values  # (N, 2)
    n, k, h, w = heatmaps.shape
    ys = cell_centers(h, stride, heatmaps.device)
    xs = cell_centers(w, stride, heatmaps.device)
    dx = xs[None, None, :] - center[:, 0, None, None]
    dy = ys[None, :, None] - center[:, 1, None, None]
    inside = (dx * dx + dy * dy) <= radius_px * radius_px  # (N, h, w)
    masked = torch.where(inside[:, None], heatmaps, torch.zeros_like(heatmaps))
    return decode_heatmaps(masked, locref, stride, locref_scale_px, refine)


def decode(
    cfg: ModelConfig,
    heatmaps: torch.Tensor,
    locref: torch.Tensor | None,
    refine: Refine = "locref",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a model's outputs as its config says: `within_animal` when the config carries an
    `animal_radius_px`, else the plain per-keypoint maximum (`decode_heatmaps`)."""
    if cfg.animal_radius_px:
        return within_animal(heatmaps, locref, cfg.heatmap_stride, cfg.locref_scale_px,
                             cfg.animal_radius_px, refine)
    return decode_heatmaps(heatmaps, locref, cfg.heatmap_stride, cfg.locref_scale_px, refine)

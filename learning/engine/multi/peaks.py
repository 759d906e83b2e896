"""Multi-peak decoding: every local maximum of a heatmap above a threshold, thinned by NMS."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as nnf

from learning.engine.targets import cell_centers


def find_peaks(
    heatmaps: torch.Tensor,
    locref: torch.Tensor | None,
    stride: int,
    locref_scale_px: float,
    threshold: float,
    nms_radius_px: float,
    max_peaks: int,
) -> list[list[np.ndarray]]:
    """Peaks of every channel of every image.

    heatmaps: (B, C, h, w) probabilities; locref: (B, C, 2, h, w) or None. A peak is a cell that
    is the maximum of its 3 x 3 neighbourhood and >= `threshold`; peaks are taken best first,
    dropping any within `nms_radius_px` (network-input pixels) of one already taken, at most
    `max_peaks` per channel. Returns [image][channel] float32 (n, 3): x, y (network-input
    pixels, refined by the locref offset at the peak cell when there is one) and the peak value,
    sorted by value, best first.
    """
    b, c, h, w = heatmaps.shape
    pooled = nnf.max_pool2d(heatmaps, 3, stride=1, padding=1)
    is_peak = (heatmaps >= pooled) & (heatmaps >= threshold)
    bi, ci, yi, xi = is_peak.nonzero(as_tuple=True)
    scores = heatmaps[bi, ci, yi, xi]
    x = cell_centers(w, stride, heatmaps.device)[xi]
    y = cell_centers(h, stride, heatmaps.device)[yi]
    if locref is not None:
        offsets = locref[bi, ci, :, yi, xi]  # (P, 2)
        x = x + offsets[:, 0] * locref_scale_px
        y = y + offsets[:, 1] * locref_scale_px
    found = torch.stack((x, y, scores), dim=1).float().cpu().numpy()
    groups = (bi * c + ci).cpu().numpy()
    result: list[list[np.ndarray]] = [
        [np.zeros((0, 3), dtype=np.float32) for _ in range(c)] for _ in range(b)
    ]
    for group in np.unique(groups):
        result[group // c][group % c] = nms(found[groups == group], nms_radius_px, max_peaks)
    return result


def nms(peaks: np.ndarray, radius: float, max_peaks: int) -> np.ndarray:
    """Greedy non-maximum suppression of peaks (n, 3) = x, y, score: best first, dropping those
    within `radius` of a kept one; at most `max_peaks` kept (sorted by score)."""
    order = np.argsort(-peaks[:, 2], kind="stable")
    kept: list[np.ndarray] = []
    for peak in peaks[order]:
        if len(kept) >= max_peaks:
            break
        if all(np.hypot(*(peak[:2] - k[:2])) > radius for k in kept):
            kept.append(peak)
    return np.array(kept, dtype=np.float32).reshape(-1, 3)

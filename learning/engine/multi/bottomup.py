"""Bottom-up multi-animal pose (for the design comparison): one whole-frame network finds every
part of every animal, then groups the parts into animals.

Its 2K + 1 multi-peak channels (`targets.merge_slots`, one slot per animal in each) are the K
parts, the animals' anchors (channel K) and, for each part k, the midpoint between that part
and its animal's anchor (channel K + 1 + k). Grouping is a one-sample part affinity: a part
candidate p belongs to the anchor a whose midpoint map is high at (p + a) / 2; each part's
candidates are assigned to the anchors by the Hungarian method on that score. Pairing animal
A's part with animal B's anchor puts the midpoint |pA - pB| / 2 from B's true one (and
|aA - aB| / 2 from A's), so a swap can only happen between parts closer than about two
sigmas, where it costs little.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from learning.engine.checkpoint import checkpoint_payload, model_from_checkpoint
from learning.engine.config import AugmentConfig, ModelConfig
from learning.engine.data import (
    NOT_PRESENT,
    VISIBLE,
    PoseSample,
    pad_to_multiple,
    resize_for_network,
    to_original_coords,
)
from learning.engine.multi.config import BottomUpConfig
from learning.engine.multi.fitting import (
    MultiProgress,
    prepared_frames,
    save_evaluated,
    stage_progress,
    stage_train_config,
)
from learning.engine.multi.peaks import find_peaks
from learning.engine.multi.precision import as_input, autocast, prepare
from learning.engine.multi.predictor import BatchedPredictor
from learning.engine.multi.samples import MultiSample, anchor
from learning.engine.network import PoseNet
from learning.engine.train import TrainResult
from learning.engine.train import train as train_network

KIND = "bottomup"


@dataclass
class BottomUpResult:
    """Outcome of `train_bottomup` (fields as in `topdown.TopDownResult`)."""

    checkpoint_path: str
    config: BottomUpConfig
    seconds: float
    network: TrainResult
    val: dict[str, Any] | None


def bottomup_model_config(cfg: BottomUpConfig, num_keypoints: int) -> ModelConfig:
    """2K + 1 channels: parts, anchor, part-anchor midpoints (resolved `cfg` only)."""
    assert cfg.sigma_px is not None
    return ModelConfig(
        num_keypoints=2 * num_keypoints + 1, backbone=cfg.backbone, input_scale=cfg.input_scale,
        heatmap_stride=cfg.heatmap_stride, head_channels=cfg.head_channels, sigma_px=cfg.sigma_px,
        locref_radius_px=max(4.0, 2 * cfg.sigma_px), locref_scale_px=max(2.0, 1.5 * cfg.sigma_px),
        pretrained=cfg.pretrained,
    )


def bottomup_sample(sample: MultiSample) -> PoseSample:
    """Slots of every animal: its K parts, its anchor and its K part-anchor midpoints."""
    k = sample.keypoints.shape[1]
    points, visible, channels = [], [], []
    for kp, ok in zip(sample.keypoints, sample.present, strict=True):
        if not ok.any():
            continue
        center = anchor(kp[ok])
        mids = np.where(ok[:, None], (kp + center) / 2, np.nan)
        points += [kp, center[None], mids]
        visible += [ok, [True], ok]
        channels.append(np.arange(2 * k + 1))
    if not points:
        return PoseSample(sample.image_path, np.zeros((0, 2), np.float32),
                          np.zeros(0, np.int8), channels=np.zeros(0, np.int64))
    keypoints = np.concatenate(points).astype(np.float32)
    present = np.concatenate(visible)
    keypoints[~present] = np.nan
    return PoseSample(sample.image_path, keypoints,
                      np.where(present, VISIBLE, NOT_PRESENT).astype(np.int8),
                      channels=np.concatenate(channels).astype(np.int64))


def train_bottomup(
    train: Sequence[MultiSample],
    val: Sequence[MultiSample] | None,
    cfg: BottomUpConfig,
    *,
    minutes: float,
    keypoint_names: Sequence[str],
    progress: Callable[[MultiProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | None = None,
    workdir: str | None = None,
) -> BottomUpResult:
    """Train the bottom-up network for `minutes` and write one checkpoint {"kind": "bottomup",
    "config", "keypoint_names", "network", "meta"} (`workdir` is unused: no files are cut)."""
    del workdir
    start = time.perf_counter()
    train_set, val_set, cfg = prepared_frames(train, val, cfg, keypoint_names)
    k = len(keypoint_names)
    model_cfg = bottomup_model_config(cfg, k)
    augment = AugmentConfig(rotation_deg=cfg.rotation_deg,
                            crop_size=(cfg.crop_size, cfg.crop_size) if cfg.crop_size else None)
    train_cfg = stage_train_config(cfg, minutes, augment, has_val=bool(val_set),
                                   select_by="val_loss")
    result = train_network([bottomup_sample(s) for s in train_set],
                           [bottomup_sample(s) for s in val_set], model_cfg, train_cfg,
                           progress=stage_progress(progress, KIND, 0.0, 1.0, minutes),
                           should_stop=should_stop)
    payload: dict[str, Any] = {
        "kind": KIND,
        "config": cfg.to_dict(),
        "keypoint_names": list(keypoint_names),
        "network": checkpoint_payload(result.model, model_cfg,
                                      meta={"epochs": result.epochs,
                                            "val_loss": result.best_val_loss}),
    }
    predictor = BottomUpPredictor.from_payload(payload)
    path, figures = save_evaluated(payload, predictor, train_set, val_set, checkpoint_path)
    return BottomUpResult(path, cfg, time.perf_counter() - start, result, figures)


def sample_map(heatmap: np.ndarray, xy: np.ndarray, stride: int) -> np.ndarray:
    """Bilinear values of one (h, w) map at points xy (..., 2) in network-input pixels."""
    h, w = heatmap.shape
    gx = np.clip((xy[..., 0] - (stride - 1) / 2) / stride, 0, w - 1)
    gy = np.clip((xy[..., 1] - (stride - 1) / 2) / stride, 0, h - 1)
    x0, y0 = np.floor(gx).astype(int), np.floor(gy).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = gx - x0, gy - y0
    top = heatmap[y0, x0] * (1 - fx) + heatmap[y0, x1] * fx
    bottom = heatmap[y1, x0] * (1 - fx) + heatmap[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def group_parts(
    anchors: np.ndarray, parts: Sequence[np.ndarray], midpoints: np.ndarray, stride: int,
    link_radius: float, link_threshold: float,
) -> np.ndarray:
    """Assemble animals (network-input pixels).

    anchors (n, 3) and parts[k] (m_k, 3): x, y, peak; midpoints (K, h, w): the midpoint maps.
    Returns float32 (n, K, 3), NaN where no candidate of a part was linked to the animal.
    """
    n, k = len(anchors), len(parts)
    animals = np.full((n, k, 3), np.nan, dtype=np.float32)
    for part, candidates in enumerate(parts):
        if n == 0 or len(candidates) == 0:
            continue
        mid = (candidates[:, None, :2] + anchors[None, :, :2]) / 2  # (m, n, 2)
        score = sample_map(midpoints[part], mid, stride)
        far = np.linalg.norm(candidates[:, None, :2] - anchors[None, :, :2], axis=-1) > link_radius
        score = np.where(far, 0.0, score)
        rows, cols = linear_sum_assignment(-score)
        for r, c in zip(rows, cols, strict=True):
            if score[r, c] >= link_threshold:
                animals[c, part] = candidates[r]
    return animals


class BottomUpPredictor(BatchedPredictor):
    """`predict.BatchedPredictor`; an animal's score is its anchor peak x mean part
    likelihood (0 for missing parts)."""

    KIND = KIND

    def __init__(self, config: BottomUpConfig, network: tuple[PoseNet, ModelConfig],
                 keypoint_names: Sequence[str], device: torch.device) -> None:
        self.config = config
        self.model, self.model_cfg = prepare(network[0], device), network[1]
        self.keypoint_names = list(keypoint_names)
        self.device = device
        self.instance_scores: list[np.ndarray] = []

    @classmethod
    def from_payload(cls, payload: dict[str, Any], device: str | torch.device | None = None
                     ) -> BottomUpPredictor:
        """From a checkpoint dict (see `train_bottomup`)."""
        dev = cls.payload_device(payload, device)
        model, model_cfg = model_from_checkpoint(payload["network"])
        return cls(BottomUpConfig.from_dict(payload["config"]), (model, model_cfg),
                   payload["keypoint_names"], dev)

    @torch.inference_mode()
    def _predict_batch(self, images: Sequence[np.ndarray]
                       ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        mcfg = self.model_cfg
        resized = [resize_for_network(np.asarray(im), mcfg.input_scale) for im in images]
        x = as_input(torch.from_numpy(pad_to_multiple([r for r, _ in resized])), self.device)
        with autocast(self.config.precision, self.device):
            heat, locref = self.model(x)
        decoded = decode_animals(torch.sigmoid(heat.float()),
                                 None if locref is None else locref.float(), mcfg, self.config)
        poses: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for (animals, anchors), (_, scale_xy) in zip(decoded, resized, strict=True):
            animals[..., :2] = to_original_coords(animals[..., :2], scale_xy)
            conf = np.nan_to_num(animals[..., 2], nan=0.0)
            animals[..., 2] = conf
            poses.append(animals)
            scores.append((anchors[:, 2] * conf.mean(axis=1)).astype(np.float32)
                          if len(animals) else np.zeros(0, np.float32))
        return poses, scores


def decode_animals(heatmaps: torch.Tensor, locref: torch.Tensor | None, model_cfg: ModelConfig,
                   cfg: BottomUpConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Animals in network-input pixels from the maps (B, 2K + 1, h, w) and locref.

    Per image: (float32 (n, K, 3) x, y, likelihood, NaN for unlinked parts; anchors (n, 3)).
    """
    k = (model_cfg.num_keypoints - 1) // 2
    assert cfg.nms_radius_px and cfg.part_nms_px and cfg.link_radius_px
    scale, stride = model_cfg.input_scale, model_cfg.heatmap_stride
    most = cfg.max_instances or 1
    anchors = find_peaks(heatmaps[:, k : k + 1],
                         None if locref is None else locref[:, k : k + 1], stride,
                         model_cfg.locref_scale_px, cfg.peak_threshold, cfg.nms_radius_px * scale,
                         most)
    parts = find_peaks(heatmaps[:, :k], None if locref is None else locref[:, :k], stride,
                       model_cfg.locref_scale_px, cfg.part_threshold, cfg.part_nms_px * scale,
                       2 * most)
    midpoints = heatmaps[:, k + 1 :].cpu().numpy()
    return [
        (group_parts(anchors[i][0], parts[i], midpoints[i], stride, cfg.link_radius_px * scale,
                     cfg.link_threshold), anchors[i][0])
        for i in range(len(heatmaps))
    ]

"""Top-down multi-animal pose: find each animal's anchor, crop around it, pose the crop.

Two engine PoseNets: the centroid network sees the whole frame (at a small scale) and draws one
Gaussian per animal into its single channel (`targets.merge_slots`); the centered-instance
network is the single-animal network trained on crops centred on each labeled animal's anchor
(other animals in the crop stay unlabeled, so it learns to report the centred one). Touching
animals stay apart because each crop is centred on its own animal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from learning.engine.checkpoint import checkpoint_payload, model_from_checkpoint
from learning.engine.config import AugmentConfig, ModelConfig
from learning.engine.data import (
    VISIBLE,
    PoseSample,
    pad_to_multiple,
    resize_for_network,
    to_original_coords,
    training_size,
    with_animal_prior,
)
from learning.engine.decode import decode
from learning.engine.multi.config import TopDownConfig
from learning.engine.multi.crops import cut_crops, training_window, write_instance_samples
from learning.engine.multi.fitting import (
    MultiProgress,
    prepared_frames,
    save_evaluated,
    scratch,
    stage_progress,
    stage_train_config,
)
from learning.engine.multi.peaks import find_peaks
from learning.engine.multi.precision import as_input, autocast, prepare
from learning.engine.multi.predictor import BatchedPredictor
from learning.engine.multi.samples import MultiSample
from learning.engine.network import PoseNet
from learning.engine.train import TrainResult
from learning.engine.train import train as train_network

KIND = "topdown"


@dataclass
class TopDownResult:
    """Outcome of `train_topdown`: the checkpoint, the resolved config, each network's engine
    TrainResult, and `val` (`match.matched_errors` of the whole pipeline on the validation
    frames; None without any)."""

    checkpoint_path: str
    config: TopDownConfig
    seconds: float
    centroid: TrainResult
    instance: TrainResult
    val: dict[str, Any] | None


def centroid_model_config(cfg: TopDownConfig) -> ModelConfig:
    """One channel, one Gaussian per animal at its anchor (resolved `cfg` only)."""
    assert cfg.centroid_scale is not None and cfg.centroid_sigma_px is not None
    sigma = cfg.centroid_sigma_px
    return ModelConfig(
        num_keypoints=1, backbone=cfg.backbone, input_scale=cfg.centroid_scale,
        head_channels=cfg.head_channels, sigma_px=sigma, locref_radius_px=max(4.0, 2 * sigma),
        locref_scale_px=max(2.0, 1.5 * sigma), pretrained=cfg.pretrained,
    )


def instance_model_config(cfg: TopDownConfig, num_keypoints: int) -> ModelConfig:
    """The single-animal network that poses the centred animal of a crop."""
    return ModelConfig(
        num_keypoints=num_keypoints, backbone=cfg.backbone, input_scale=cfg.instance_scale,
        head_channels=cfg.head_channels, sigma_px=cfg.sigma_px,
        locref_radius_px=max(4.0, 2 * cfg.sigma_px), locref_scale_px=max(2.0, 1.5 * cfg.sigma_px),
        pretrained=cfg.pretrained,
    )


def centroid_samples(samples: Sequence[MultiSample]) -> list[PoseSample]:
    """Whole frames whose slots are the animals' anchors, all in channel 0."""
    result = []
    for sample in samples:
        anchors = sample.anchors()
        n = len(anchors)
        result.append(PoseSample(sample.image_path, anchors, np.full(n, VISIBLE, np.int8),
                                 channels=np.zeros(n, dtype=np.int64)))
    return result


def train_topdown(
    train: Sequence[MultiSample],
    val: Sequence[MultiSample] | None,
    cfg: TopDownConfig,
    *,
    minutes: float,
    keypoint_names: Sequence[str],
    progress: Callable[[MultiProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | None = None,
    workdir: str | None = None,
) -> TopDownResult:
    """Train the centroid network (`centroid_share` of `minutes`), then the centered-instance
    network (the rest, including what the first left unused), and write one checkpoint.

    Without `val`, `cfg.val_fraction` of the frames is held out. The instance crops are written
    as PNG files under `workdir` (a temporary directory when None). The checkpoint (atomic,
    `checkpoint_path` or a new temporary file) is a dict {"kind": "topdown", "config",
    "keypoint_names", "centroid", "instance", "meta"}, the two networks as engine checkpoint
    dicts. Raises engine.train.TrainingCancelled when `should_stop()` returns True.
    """
    start = time.perf_counter()
    train_set, val_set, cfg = prepared_frames(train, val, cfg, keypoint_names)
    k = len(keypoint_names)
    share = cfg.centroid_share
    centroid, centroid_cfg = _train_centroid(
        train_set, val_set, cfg, minutes * share,
        stage_progress(progress, "centroid", 0.0, share, minutes * share), should_stop)
    with scratch(workdir) as directory:
        instance, instance_cfg = _train_instance(
            train_set, val_set, cfg, k, directory, start + minutes * 60, progress, should_stop,
            keypoint_names)
    payload = {
        "kind": KIND,
        "config": cfg.to_dict(),
        "keypoint_names": list(keypoint_names),
        "centroid": checkpoint_payload(centroid.model, centroid_cfg,
                                       meta={"epochs": centroid.epochs,
                                             "val_loss": centroid.best_val_loss}),
        "instance": checkpoint_payload(instance.model, instance_cfg,
                                       keypoint_names,
                                       meta={"epochs": instance.epochs,
                                             "val_loss": instance.best_val_loss,
                                             "val_rmse_px": instance.best_val_rmse_px}),
    }
    predictor = TopDownPredictor.from_payload(payload)
    path, figures = save_evaluated(payload, predictor, train_set, val_set, checkpoint_path)
    return TopDownResult(path, cfg, time.perf_counter() - start, centroid, instance, figures)


def _train_centroid(
    train_set: list[MultiSample], val_set: list[MultiSample], cfg: TopDownConfig,
    minutes: float, progress: Callable[..., None] | None, should_stop: Callable[[], bool] | None,
) -> tuple[TrainResult, ModelConfig]:
    model_cfg = centroid_model_config(cfg)
    samples = centroid_samples(train_set)
    # Whole frames: the network must see all of the background to learn where no animal is.
    augment = AugmentConfig(rotation_deg=cfg.rotation_deg,
                            crop_size=training_size(samples, model_cfg.input_scale))
    train_cfg = stage_train_config(cfg, minutes, augment, has_val=bool(val_set),
                                   select_by="val_loss")
    result = train_network(samples, centroid_samples(val_set), model_cfg, train_cfg,
                           progress=progress, should_stop=should_stop)
    return result, model_cfg


def _train_instance(
    train_set: list[MultiSample], val_set: list[MultiSample], cfg: TopDownConfig, k: int,
    directory: str, deadline: float, progress: Callable[[MultiProgress], None] | None,
    should_stop: Callable[[], bool] | None, keypoint_names: Sequence[str],
) -> tuple[TrainResult, ModelConfig]:
    """Cut the crops, then train until `deadline` (perf_counter seconds; at least a little)."""
    assert cfg.crop_size is not None
    samples = write_instance_samples(
        train_set, training_window(cfg.crop_side, cfg.crop_jitter), directory, "train")
    val_samples = write_instance_samples(val_set, cfg.crop_side, directory, "val")
    if not samples:
        raise ValueError("no labeled animal to train the instance network on")
    minutes = max((deadline - time.perf_counter()) / 60, 0.01)
    model_cfg = with_animal_prior(instance_model_config(cfg, k), samples)
    # Crops stay on the animal (it must stay centred): no translation, a small jitter, and
    # no random placement; scaling and rotation happen about the crop centre.
    augment = AugmentConfig(
        flip_pairs=cfg.flip_pairs, rotation_deg=cfg.rotation_deg, translate_frac=0.0,
        crop_size=(cfg.crop_size, cfg.crop_size), crop_jitter=cfg.crop_jitter, crop_random_p=0.0,
    )
    train_cfg = stage_train_config(cfg, minutes, augment, has_val=bool(val_samples),
                                   select_by="val_rmse")
    share = cfg.centroid_share
    result = train_network(samples, val_samples, model_cfg, train_cfg,
                           progress=stage_progress(progress, "instance", share, 1 - share,
                                                   minutes),
                           should_stop=should_stop, keypoint_names=keypoint_names)
    return result, model_cfg


class TopDownPredictor(BatchedPredictor):
    """Poses of every animal in frames: centroid peaks, then one batched instance pass
    (`predictor.BatchedPredictor`); parts below `part_threshold` are NaN, and an animal's
    score is its centroid peak x mean part likelihood.
    """

    KIND = KIND

    def __init__(self, config: TopDownConfig, centroid: tuple[PoseNet, ModelConfig],
                 instance: tuple[PoseNet, ModelConfig], keypoint_names: Sequence[str],
                 device: torch.device) -> None:
        self.config = config
        self.centroid_model, self.centroid_cfg = prepare(centroid[0], device), centroid[1]
        self.instance_model, self.instance_cfg = prepare(instance[0], device), instance[1]
        self.keypoint_names = list(keypoint_names)
        self.device = device
        self.instance_scores: list[np.ndarray] = []

    @classmethod
    def from_payload(cls, payload: dict[str, Any], device: str | torch.device | None = None
                     ) -> TopDownPredictor:
        """From a checkpoint dict (see `train_topdown`)."""
        dev = cls.payload_device(payload, device)
        return cls(TopDownConfig.from_dict(payload["config"]),
                   model_from_checkpoint(payload["centroid"]),
                   model_from_checkpoint(payload["instance"]), payload["keypoint_names"], dev)

    @torch.inference_mode()
    def detect(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per frame float32 (n, 3): each animal's anchor (x, y, original pixels) and peak."""
        cfg, ccfg = self.config, self.centroid_cfg
        resized = [resize_for_network(np.asarray(im), ccfg.input_scale) for im in images]
        heat, locref = self._forward(self.centroid_model, [r for r, _ in resized])
        peaks = find_peaks(torch.sigmoid(heat), locref, ccfg.heatmap_stride,
                           ccfg.locref_scale_px, cfg.peak_threshold,
                           (cfg.nms_radius_px or 0.0) * ccfg.input_scale, cfg.max_instances or 1)
        found = []
        for (_, scale_xy), per_channel in zip(resized, peaks, strict=True):
            p = per_channel[0].copy()
            p[:, :2] = to_original_coords(p[:, :2], scale_xy)
            found.append(p)
        return found

    def _forward(self, model: PoseNet, images: list[np.ndarray]
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Heatmap logits and locref (float32) of a padded batch, at the config's precision."""
        x = as_input(torch.from_numpy(pad_to_multiple(images)), self.device)
        with autocast(self.config.precision, self.device):
            heat, locref = model(x)
        return heat.float(), None if locref is None else locref.float()

    @torch.inference_mode()
    def _predict_batch(self, images: Sequence[np.ndarray]
                       ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        cfg, icfg = self.config, self.instance_cfg
        k = icfg.num_keypoints
        anchors = self.detect(images)
        crops: list[np.ndarray] = []
        origins: list[np.ndarray] = []
        for image, found in zip(images, anchors, strict=True):
            frame_crops, frame_origins = cut_crops(np.asarray(image), found[:, :2], cfg.crop_side)
            crops += frame_crops
            origins.append(frame_origins)
        if crops:
            resized = [resize_for_network(c, icfg.input_scale) for c in crops]
            heat, locref = self._forward(self.instance_model, [r for r, _ in resized])
            xy, likelihood = decode(icfg, torch.sigmoid(heat), locref)
            xy_np = to_original_coords(xy.cpu().numpy(), resized[0][1])
            conf = likelihood.cpu().numpy()
        else:
            xy_np, conf = np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        xy_np = xy_np + np.concatenate(origins)[:, None, :]
        xy_np = np.where((conf >= cfg.part_threshold)[..., None], xy_np, np.nan)
        everything = np.concatenate([xy_np, conf[..., None]], axis=-1).astype(np.float32)
        poses, scores, start = [], [], 0
        for found in anchors:
            n = len(found)
            poses.append(everything[start : start + n])
            scores.append((found[:, 2] * conf[start : start + n].mean(axis=1)).astype(np.float32)
                          if n else np.zeros(0, np.float32))
            start += n
        return poses, scores


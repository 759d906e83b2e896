"""Distillation: a small network (the student) learns from a trained one (the teacher).

The teacher labels unlabeled frames of the project's videos (pseudo-labels). Each pseudo-labeled
point is weighted by the teacher's confidence (its heatmap peak, `weighting="confidence"`) or
counted fully (`"hard"`); points below `min_confidence` are left out. The human labels are
repeated so that they make `human_share` of each epoch (or `human_repeat` times when given),
so that a thousand pseudo-labels do not drown a hundred human ones. The student then trains
with the ordinary loop (`train.train`: same data pipeline, targets, loss, EMA and schedule)
and is validated on held-out human labels only (the epoch kept follows
`train_cfg.select_by`; the platform keeps the last one,
`training.distill.student_train_config`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Self

import numpy as np

from learning.engine.config import BACKBONES, ModelConfig, TrainConfig, _check_keys, _require
from learning.engine.data import VISIBLE, PoseSample, pad_to_multiple, resize_for_network
from learning.engine.export import Runner
from learning.engine.train import TrainProgress, TrainResult, split_samples, train
from learning.engine.video import decode_outputs

WEIGHTINGS = ("confidence", "hard")
MAX_REPEAT = 100  # times a human sample may be seen per epoch


@dataclass(frozen=True)
class DistillConfig:
    """What the student is and how it learns from the teacher.

    `input_scale` None keeps the teacher's. `frames`: unlabeled frames the teacher labels.
    The defaults are the student measured on openfield (`docs/benchmarks.md`, issue 20): on
    an idle two-core machine head 64 with 800 teacher-labelled frames ran 118 whole frames/s
    end to end and came within 0.31 px of its teacher in 20 minutes, where head 32 with 400
    frames stayed 0.79 px behind in 10. `human_share`: with the same teacher, human labels
    making 60 % of each epoch brought 20-minute students to 0.15 and 0.39 px of their
    teacher where 34 % (4 repeats) left a 40-minute one 0.54 px behind: the labelled frames
    are the truth, the teacher's frames (often of other videos) only widen the view.
    `human_repeat`, when given, fixes the repeats instead.
    """

    backbone: str = "mobilenet_v3_small"
    head_channels: int = 64
    input_scale: float | None = None
    frames: int = 800
    min_confidence: float = 0.5
    weighting: str = "confidence"
    human_share: float = 0.6
    human_repeat: int | None = None

    def __post_init__(self) -> None:
        _require(self.backbone in BACKBONES, f"backbone must be one of {BACKBONES}")
        _require(self.head_channels >= 8, "head_channels must be >= 8")
        _require(self.input_scale is None or 0.05 <= self.input_scale <= 4.0,
                 "input_scale must be in [0.05, 4]")
        _require(1 <= self.frames <= 100_000, "frames must be in [1, 100000]")
        _require(0.0 <= self.min_confidence < 1.0, "min_confidence must be in [0, 1)")
        _require(self.weighting in WEIGHTINGS, f"weighting must be one of {WEIGHTINGS}")
        _require(0.05 <= self.human_share <= 0.95, "human_share must be in [0.05, 0.95]")
        _require(self.human_repeat is None or 1 <= self.human_repeat <= MAX_REPEAT,
                 f"human_repeat must be in [1, {MAX_REPEAT}]")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict; raises ValueError on unknown keys or bad values."""
        _check_keys(cls, data)
        try:
            return cls(**data)
        except TypeError as exc:  # a value of the wrong type
            raise ValueError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-safe)."""
        return dataclasses.asdict(self)

    def repeats(self, n_human: int, n_pseudo: int) -> int:
        """How many times each human sample is seen per epoch beside `n_pseudo` pseudo-labeled
        ones: `human_repeat` when given, else the number that makes the human samples
        `human_share` of the epoch (at least once, at most MAX_REPEAT)."""
        if self.human_repeat is not None:
            return self.human_repeat
        if n_human == 0 or n_pseudo == 0:
            return 1
        ratio = self.human_share / (1.0 - self.human_share)
        return max(1, min(MAX_REPEAT, round(ratio * n_pseudo / n_human)))


def student_config(teacher: ModelConfig, cfg: DistillConfig,
                   pretrained: str | None = None) -> ModelConfig:
    """The teacher's config with the student's backbone, head and input scale; the
    single-animal prior is carried over in the student's network pixels."""
    scale = cfg.input_scale or teacher.input_scale
    radius = teacher.animal_radius_px
    if radius is not None:
        radius = round(radius * scale / teacher.input_scale, 2)
    return replace(teacher, backbone=cfg.backbone, head_channels=cfg.head_channels,
                   input_scale=scale, animal_radius_px=radius, pretrained=pretrained)


def _batches(items: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def pseudo_label(runner: Runner, cfg: ModelConfig, images: Iterable[np.ndarray],
                 batch_size: int = 16, progress: Callable[[int], None] | None = None
                 ) -> np.ndarray:
    """The teacher's poses float32 (N, K, 3) (x, y original pixels, likelihood) of uint8 RGB
    images (H, W, 3), through any backend (`export.Runner`: ONNX Runtime on the CPU, eager
    with mixed precision on CUDA); `progress(done)` after each batch."""
    poses: list[np.ndarray] = []
    done = 0
    for batch in _batches(images, batch_size):
        resized = [resize_for_network(np.asarray(im), cfg.input_scale) for im in batch]
        heatmaps, locref = runner(pad_to_multiple([im for im, _ in resized]))
        poses.append(decode_outputs(cfg, heatmaps, locref, np.stack([s for _, s in resized])))
        done += len(batch)
        if progress is not None:
            progress(done)
    if not poses:
        return np.zeros((0, cfg.num_keypoints, 3), dtype=np.float32)
    return np.concatenate(poses)


def pseudo_samples(image_paths: Sequence[str], poses: np.ndarray, cfg: DistillConfig
                   ) -> list[PoseSample]:
    """One sample per image from the teacher's poses (N, K, 3): points below
    `min_confidence` are not present; the others weigh their likelihood (or 1, "hard")."""
    if len(image_paths) != len(poses):
        raise ValueError(f"{len(image_paths)} images but {len(poses)} poses")
    samples = []
    for path, pose in zip(image_paths, poses, strict=True):
        likelihood = pose[:, 2]
        keep = (likelihood >= cfg.min_confidence) & np.isfinite(pose[:, :2]).all(axis=1)
        keypoints = np.where(keep[:, None], pose[:, :2], np.nan).astype(np.float32)
        weights = likelihood if cfg.weighting == "confidence" else np.ones_like(likelihood)
        samples.append(PoseSample(
            path, keypoints, np.where(keep, VISIBLE, 0).astype(np.int8),
            np.where(keep, weights, 0.0).astype(np.float32),
        ))
    return samples


def kept_pseudo(pseudo: Sequence[PoseSample]) -> list[PoseSample]:
    """The pseudo-labeled samples that kept a point (the others teach nothing)."""
    return [s for s in pseudo if s.present.any()]


def human_repeats(cfg: DistillConfig, human: Sequence[PoseSample],
                  pseudo: Sequence[PoseSample]) -> int:
    """Times each human sample is seen per epoch (`DistillConfig.repeats`) beside the
    pseudo-labeled samples that kept a point."""
    return cfg.repeats(len(human), len(kept_pseudo(pseudo)))


def training_set(human: Sequence[PoseSample], pseudo: Sequence[PoseSample],
                 repeats: int) -> list[PoseSample]:
    """The human samples `repeats` times, then the pseudo-labeled ones that kept a point."""
    return [*human] * repeats + kept_pseudo(pseudo)


def distill(
    human: Sequence[PoseSample],
    pseudo: Sequence[PoseSample],
    student_cfg: ModelConfig,
    train_cfg: TrainConfig,
    cfg: DistillConfig,
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | None = None,
    keypoint_names: Sequence[str] | None = None,
) -> TrainResult:
    """Train the student on the human train samples and the teacher's pseudo-labeled ones.

    `train_cfg.val_fraction` of the *human* samples is held out for validation (the epoch
    kept is chosen by `train_cfg.select_by` on human labels, or is the last with "last");
    everything else is as `train`.
    """
    if not human and not pseudo:
        raise ValueError("no samples to distil from")
    fit, val = (split_samples(human, train_cfg.val_fraction, train_cfg.seed)
                if len(human) > 1 and train_cfg.val_fraction > 0 else (list(human), []))
    # counted on every human train sample, as the recipe and the stored metrics count them
    samples = training_set(fit, pseudo, human_repeats(cfg, human, pseudo))
    if not samples:
        raise ValueError("the teacher was not confident on any frame, and there are no labels")
    return train(samples, val or None, student_cfg,
                 replace(train_cfg, val_fraction=0.0) if not val else train_cfg,
                 progress=progress, should_stop=should_stop, checkpoint_path=checkpoint_path,
                 keypoint_names=keypoint_names)

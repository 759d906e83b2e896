"""Frozen configuration dataclasses for the pose engine.

Every config round-trips through plain dicts (`to_dict` / `from_dict`) so that it can be stored
as JSON next to a checkpoint or a training run. Unknown keys are errors, never silently dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

BACKBONES: tuple[str, ...] = (
    "resnet18", "resnet50", "mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v2",
    "efficientnet_b0",
)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
SELECT_BY: tuple[str, ...] = ("val_rmse", "val_loss", "last")


def _check_keys(cls: type, data: dict[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}")


def _tuplify(value: Any) -> Any:
    """JSON turns tuples into lists; turn them back (recursively) so configs stay hashable."""
    if isinstance(value, list | tuple):
        return tuple(_tuplify(v) for v in value)
    return value


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class ModelConfig:
    """What the network is and what its outputs mean.

    Coordinates: images are resized by `input_scale` before the network; `sigma_px`,
    `locref_radius_px` and `locref_scale_px` are in network-input pixels. The network predicts
    one heatmap per keypoint at `heatmap_stride` plus (if `locref`) a 2-D offset per keypoint.
    `pretrained` is a weights file path, "auto" (torchvision's ImageNet weights only if already in
    the local torch hub cache; never downloads) or None (from scratch).
    `animal_radius_px` (network-input pixels; None: off) is the single-animal prior used when
    decoding: each body part's peak is taken within that distance of the parts' median, so a
    far-off false peak cannot win (`decode.decode`). Training sets it from the labeled extent.
    """

    num_keypoints: int
    backbone: str = "resnet18"
    input_scale: float = 0.5
    heatmap_stride: int = 4
    head_channels: int = 128
    sigma_px: float = 6.0
    locref: bool = True
    locref_radius_px: float = 10.0
    locref_scale_px: float = 8.0
    pretrained: str | None = "auto"
    animal_radius_px: float | None = None

    def __post_init__(self) -> None:
        _require(self.num_keypoints >= 1, "num_keypoints must be >= 1")
        _require(self.backbone in BACKBONES, f"backbone must be one of {BACKBONES}")
        _require(0.05 <= self.input_scale <= 4.0, "input_scale must be in [0.05, 4]")
        _require(self.heatmap_stride in (2, 4, 8, 16), "heatmap_stride must be 2, 4, 8 or 16")
        _require(self.head_channels >= 8, "head_channels must be >= 8")
        _require(self.sigma_px > 0 and self.locref_scale_px > 0, "sigma/locref scale must be > 0")
        _require(self.locref_radius_px > 0, "locref_radius_px must be > 0")
        _require(self.animal_radius_px is None or self.animal_radius_px > 0,
                 "animal_radius_px must be > 0 or None")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict; raises ValueError on unknown keys or bad values."""
        _check_keys(cls, data)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-safe)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; all geometry is applied to images and keypoints together.

    `flip_pairs` are (left, right) keypoint index pairs swapped by a horizontal flip; flipping is
    only done when `flip_p > 0`. `crop_size` (height, width) in network-input pixels is the fixed
    training size; None derives it from the data (`data.auto_crop_size`: the animal's extent plus
    `crop_margin_px` on each side). A crop smaller than the image is centred on the labeled
    points, moved by up to `crop_jitter` x crop size; a `crop_random_p` share is placed anywhere.
    """

    enabled: bool = True
    flip_p: float = 0.5
    flip_pairs: tuple[tuple[int, int], ...] = ()
    rotation_deg: float = 25.0
    scale_range: tuple[float, float] = (0.8, 1.25)
    translate_frac: float = 0.1
    brightness: float = 0.3
    contrast: float = 0.3
    blur_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.1, 1.5)
    crop_size: tuple[int, int] | None = None
    crop_margin_px: int = 32
    crop_jitter: float = 0.25
    crop_random_p: float = 0.25

    def __post_init__(self) -> None:
        _require(0.0 <= self.flip_p <= 1.0 and 0.0 <= self.blur_p <= 1.0, "p must be in [0, 1]")
        _require(0 < self.scale_range[0] <= self.scale_range[1], "bad scale_range")
        _require(0 <= self.translate_frac < 1, "translate_frac must be in [0, 1)")
        for pair in self.flip_pairs:
            _require(len(pair) == 2 and pair[0] != pair[1], f"bad flip pair {pair}")
        if self.crop_size is not None:
            _require(len(self.crop_size) == 2 and min(self.crop_size) >= 32, "bad crop_size")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict; raises ValueError on unknown keys or bad values."""
        _check_keys(cls, data)
        return cls(**{k: _tuplify(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-safe apart from tuples, which `from_dict` accepts as lists)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: budget, optimisation, validation, device.

    Training stops at `max_epochs`, after `max_minutes`, or when the validation score
    (`select_by`: decoded pixel error, or loss) has not improved for `patience` epochs, whichever
    comes first; the best-scoring epoch is kept. Pixel error is the default: on openfield the
    lowest-loss epoch was 28 of 57 while the validation pixel error still improved afterwards.
    `select_by="last"` still validates every epoch but keeps the final one (and never stops
    early): for a run whose few validation frames are too noisy to pick an epoch by.
    The learning rate warms up linearly for `warmup_frac` of the run, then follows a cosine to 0;
    "the run" is max(epoch fraction, time fraction), so a time-limited run still ends annealed.
    `val_fraction` is only used when no validation samples are passed to `train`.
    `ema_decay` > 0 validates and keeps an exponential moving average of the weights (and
    batch-norm statistics) instead of the raw weights; the decay ramps up as
    min(ema_decay, (1 + step) / (10 + step)) so the average does not drag early epochs.
    `mixed_precision` runs forward passes under bf16 `torch.autocast` on CUDA (the loss is taken
    in float32); it changes nothing on the CPU.
    `temporal_weight` > 0 adds `temporal.temporal_loss` on `temporal_pairs` pairs of unlabeled
    consecutive frames a step (passed to `train.train` as `frame_pairs`): a part whose
    prediction moves more than `temporal_margin_px` (network-input pixels) between the two
    frames is pulled back, in units of `sigma_px`.
    """

    max_epochs: int = 1000
    max_minutes: float = 10.0
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_frac: float = 0.03
    val_fraction: float = 0.05
    patience: int = 1000
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    num_threads: int | None = None
    channels_last: bool = False
    locref_loss_weight: float = 0.05
    select_by: str = "val_rmse"
    ema_decay: float = 0.99
    mixed_precision: bool = True
    temporal_weight: float = 0.0
    temporal_margin_px: float = 3.0
    temporal_pairs: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        _require(self.max_epochs >= 1 and self.batch_size >= 1, "max_epochs/batch_size >= 1")
        _require(self.max_minutes > 0 and self.lr > 0, "max_minutes and lr must be > 0")
        _require(0.0 <= self.val_fraction < 1.0, "val_fraction must be in [0, 1)")
        _require(0.0 <= self.warmup_frac < 1.0, "warmup_frac must be in [0, 1)")
        _require(self.patience >= 1, "patience must be >= 1")
        _require(self.device in DEVICES, f"device must be one of {DEVICES}")
        _require(self.num_workers >= 0, "num_workers must be >= 0")
        _require(self.select_by in SELECT_BY, f"select_by must be one of {SELECT_BY}")
        _require(0.0 <= self.ema_decay < 1.0, "ema_decay must be in [0, 1)")
        _require(self.temporal_weight >= 0 and self.temporal_margin_px >= 0,
                 "temporal_weight and temporal_margin_px must be >= 0")
        _require(self.temporal_pairs >= 1, "temporal_pairs must be >= 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict (`augment` may be a nested dict); ValueError on unknown keys."""
        _check_keys(cls, data)
        values = dict(data)
        if isinstance(values.get("augment"), dict):
            values["augment"] = AugmentConfig.from_dict(values["augment"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, `augment` nested."""
        return dataclasses.asdict(self)

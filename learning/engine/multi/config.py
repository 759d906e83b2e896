"""Frozen configurations of the multi-animal designs; `None` fields are chosen from the data.

Both round-trip through plain dicts like `engine.config` (unknown keys are errors). `resolve`
fills every `None` ("auto") field from the training samples; the resolved config is what a
checkpoint stores, so a predictor never needs the samples.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from learning.engine.config import BACKBONES, DEVICES
from learning.engine.data import round_up
from learning.engine.multi.precision import PRECISIONS
from learning.engine.multi.samples import MultiSample, max_animals, typical_extent

CENTROID_EXTENT_PX = 32.0  # the median animal spans this many centroid-network pixels (auto)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class _MultiConfig:
    """The fields both designs share (network, detection thresholds, optimisation, runtime;
    documented on TopDownConfig) and the dict round trip."""

    backbone: str = "resnet18"
    pretrained: str | None = "auto"
    head_channels: int = 64
    max_instances: int | None = None
    peak_threshold: float = 0.2
    part_threshold: float = 0.1
    nms_radius_px: float | None = None
    rotation_deg: float = 180.0
    batch_size: int = 8
    lr: float = 2e-3
    max_epochs: int = 1000
    precision: str = "auto"
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None

    def __post_init__(self) -> None:
        _require(self.backbone in BACKBONES, f"backbone must be one of {BACKBONES}")
        _require(self.device in DEVICES, f"device must be one of {DEVICES}")
        _require(self.head_channels >= 8 and self.batch_size >= 1,
                 "head_channels/batch_size too small")
        _require(self.max_instances is None or self.max_instances >= 1,
                 "max_instances must be >= 1")
        _require(0.0 < self.peak_threshold < 1.0 and 0.0 <= self.part_threshold < 1.0,
                 "thresholds must be in (0, 1)")
        _require(self.nms_radius_px is None or self.nms_radius_px > 0,
                 "nms_radius_px must be > 0")
        _require(0.0 <= self.val_fraction < 1.0, "val_fraction must be in [0, 1)")
        _require(self.max_epochs >= 1, "max_epochs must be >= 1")
        _require(self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}")
        for pair in getattr(self, "flip_pairs", ()):
            _require(len(pair) == 2 and pair[0] != pair[1], f"bad flip pair {pair}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict; raises ValueError on unknown keys or bad values."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown keys {unknown}")
        values = {k: tuple(tuple(p) for p in v) if k == "flip_pairs" else v
                  for k, v in data.items()}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-safe apart from tuples, which `from_dict` accepts as lists)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TopDownConfig(_MultiConfig):
    """Centroid network + centered-instance network (SLEAP's "centroid + centered instance").

    centroid_scale: input scale of the whole-frame centroid network (auto: the median animal
    spans CENTROID_EXTENT_PX network pixels, within [1/8, 1]); centroid_sigma_px: its target
    Gaussian (network pixels; auto: 15 % of that span, within [2.5, 8]).
    crop_size: the instance network's square input (network-input pixels, a multiple of 32;
    auto: 95th percentile of the animals' extent + 2 x crop_margin_px original pixels, at
    instance_scale, rounded up). max_instances: most animals reported per frame (auto: most
    labeled in one frame). peak_threshold: least centroid peak for an animal; part_threshold:
    least part likelihood for a part to be reported (else NaN). nms_radius_px: original pixels
    between two detected animals at least (auto: a quarter of the median extent).
    centroid_share: share of the time budget given to the centroid network.
    max_epochs: each network's epoch limit (the time budget usually ends training first).
    precision: of the predictor's forward passes (`precision.inference_dtype`; "auto" is
    bfloat16 on CPUs with native bf16).
    crop_jitter: how far (share of the crop) the instance network's training crops move off
    the anchor, standing in for the centroid network's error. rotation_deg: training rotations
    (both networks); 180 by default, since animals filmed from above face every way and the
    labeled frames may not show every heading (flies-pair: frames 0-599 hold none of the
    0-45 degree headings that dominate frames 600-1099).
    """

    centroid_scale: float | None = None
    centroid_sigma_px: float | None = None
    instance_scale: float = 1.0
    crop_size: int | None = None
    crop_margin_px: int = 16
    sigma_px: float = 5.0
    centroid_share: float = 0.3
    crop_jitter: float = 0.05
    flip_pairs: tuple[tuple[int, int], ...] = ()
    inference_batch: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.centroid_scale is None or 0.05 <= self.centroid_scale <= 4,
                 "centroid_scale must be in [0.05, 4]")
        _require(0.05 <= self.instance_scale <= 4, "instance_scale must be in [0.05, 4]")
        _require(self.crop_size is None or (self.crop_size >= 32 and self.crop_size % 32 == 0),
                 "crop_size must be a multiple of 32")
        _require(0.0 < self.centroid_share < 1.0, "centroid_share must be in (0, 1)")
        _require(0.0 <= self.crop_jitter < 0.5, "crop_jitter must be in [0, 0.5)")

    @property
    def crop_side(self) -> int:
        """Side of an instance crop in original pixels (resolved configs only)."""
        assert self.crop_size is not None
        return math.ceil(self.crop_size / self.instance_scale)

    def resolve(self, samples: Sequence[MultiSample]) -> TopDownConfig:
        """This config with every auto field measured on `samples` (ValueError without an
        animal with two labeled parts)."""
        median, p95 = typical_extent(samples), typical_extent(samples, 95)
        scale = self.centroid_scale or round(min(1.0, max(0.125, CENTROID_EXTENT_PX / median)), 3)
        crop = self.crop_size or round_up(math.ceil((p95 + 2 * self.crop_margin_px)
                                                    * self.instance_scale))
        return dataclasses.replace(
            self,
            centroid_scale=scale,
            centroid_sigma_px=self.centroid_sigma_px or round(
                min(8.0, max(2.5, 0.15 * median * scale)), 2),
            crop_size=crop,
            max_instances=self.max_instances or max_animals(samples),
            nms_radius_px=self.nms_radius_px or round(0.25 * median, 2),
        )


@dataclass(frozen=True)
class BottomUpConfig(_MultiConfig):
    """One whole-frame network: K multi-peak part maps, an anchor map and K "part-anchor
    midpoint" maps that group parts into animals (`bottomup`).

    sigma_px: target Gaussian (network pixels; auto: 6 % of the median extent, within [2.5, 6]).
    heatmap_stride: 2, finer than the single-animal 4, so that the same part of two touching
    animals gives two peaks.
    link_radius_px: farthest a part may lie from its animal's anchor (original pixels; auto:
    the 95th percentile extent). link_threshold: least midpoint-map value for a part-anchor
    link. part_nms_px: least distance between two peaks of one part (original pixels; auto:
    2 sigma). Other fields as in TopDownConfig; crop_size (network pixels) None: the engine's
    auto crop (all labeled animals plus a margin). No flips: a flip would have to swap the
    left/right maps of every animal (`data.PoseDataset` refuses flip pairs with channels).
    """

    input_scale: float = 0.5
    heatmap_stride: int = 2
    sigma_px: float | None = None
    crop_size: int | None = None
    link_threshold: float = 0.1
    part_nms_px: float | None = None
    link_radius_px: float | None = None
    inference_batch: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.05 <= self.input_scale <= 4, "input_scale must be in [0.05, 4]")
        _require(self.heatmap_stride in (2, 4), "heatmap_stride must be 2 or 4")
        _require(self.crop_size is None or (self.crop_size >= 32 and self.crop_size % 32 == 0),
                 "crop_size must be a multiple of 32")
        _require(0.0 < self.link_threshold < 1.0, "link_threshold must be in (0, 1)")

    def resolve(self, samples: Sequence[MultiSample]) -> BottomUpConfig:
        """This config with every auto field measured on `samples`."""
        median, p95 = typical_extent(samples), typical_extent(samples, 95)
        sigma = self.sigma_px or round(min(6.0, max(2.5, 0.06 * median * self.input_scale)), 2)
        return dataclasses.replace(
            self,
            sigma_px=sigma,
            max_instances=self.max_instances or max_animals(samples),
            nms_radius_px=self.nms_radius_px or round(0.25 * median, 2),
            part_nms_px=self.part_nms_px or round(2 * sigma / self.input_scale, 2),
            link_radius_px=self.link_radius_px or round(p95, 2),
        )

"""Checkpoints: one torch file holding the model config, weights, keypoint names and metadata."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import torch

from learning.engine.config import ModelConfig
from learning.engine.network import PoseNet


def checkpoint_payload(
    model: PoseNet,
    cfg: ModelConfig,
    keypoint_names: Sequence[str] | None = None,
    meta: dict[str, Any] | None = None,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """The dict a checkpoint file holds (weights on the CPU); see `save_checkpoint`."""
    return {
        "format": "poseloop-engine/1",
        "model_config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in (state_dict or model.state_dict()).items()},
        "keypoint_names": list(keypoint_names) if keypoint_names is not None else None,
        "meta": dict(meta or {}),
    }


def save_checkpoint(
    path: str,
    model: PoseNet,
    cfg: ModelConfig,
    keypoint_names: Sequence[str] | None = None,
    meta: dict[str, Any] | None = None,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write atomically: a temp file in the same directory, fsync, then os.replace.

    Readers therefore see either the previous complete file or the new complete one.
    `state_dict` overrides the model's current weights (e.g. a kept copy of the best epoch).
    """
    save_payload(path, checkpoint_payload(model, cfg, keypoint_names, meta, state_dict))


def save_payload(path: str, payload: dict[str, Any]) -> None:
    """torch.save `payload` to `path` atomically (temp file, fsync, os.replace)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str) -> dict[str, Any]:
    """The raw checkpoint dict (model_config, state_dict, keypoint_names, meta)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def model_from_checkpoint(ckpt: dict[str, Any]) -> tuple[PoseNet, ModelConfig]:
    """Rebuild the network from a checkpoint dict (no ImageNet weights are loaded)."""
    cfg = dataclasses.replace(ModelConfig.from_dict(ckpt["model_config"]), pretrained=None)
    model = PoseNet(cfg)
    model.load_state_dict(ckpt["state_dict"])
    return model, cfg


def load_model(path: str, device: str | torch.device | None = None) -> tuple[PoseNet, ModelConfig]:
    """(PoseNet in eval mode on `device` (default CPU), its ModelConfig) from a checkpoint file."""
    model, cfg = model_from_checkpoint(load_checkpoint(path))
    return model.to(device or "cpu").eval(), cfg

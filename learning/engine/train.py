"""The one training entry point: `train(...)` wires data, targets, network, loss and checkpoints."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, get_worker_info

from learning.engine.checkpoint import load_checkpoint, save_checkpoint
from learning.engine.config import ModelConfig, TrainConfig
from learning.engine.data import PoseDataset, PoseSample, auto_crop_size, training_size
from learning.engine.decode import decode
from learning.engine.loss import pose_loss
from learning.engine.network import PoseNet, build_model
from learning.engine.targets import make_targets
from learning.engine.temporal import (
    FramePairs,
    endless_pairs,
    frozen_norm_statistics,
    soft_keypoints,
    temporal_loss,
)
from learning.engine.transfer import transferred_model

logger = logging.getLogger(__name__)

# Config keys that change the architecture or output meaning; a warm start must match them.
_ARCHITECTURE_KEYS = ("num_keypoints", "backbone", "heatmap_stride", "head_channels", "locref")


class TrainingCancelled(Exception):
    """Raised when `should_stop()` returned True during training."""


@dataclass(frozen=True)
class TrainProgress:
    """Reported after every epoch; val_loss is None without validation samples."""

    epoch: int
    max_epochs: int
    step: int
    train_loss: float
    val_loss: float | None
    elapsed_s: float
    eta_s: float


@dataclass
class TrainResult:
    """Outcome of `train`. `model` holds the best epoch's weights (eval mode); best_val_loss and
    best_val_rmse_px (original-image pixels) are that epoch's validation figures.

    data_share: fraction of training-step wall time spent waiting for batches (loading,
    augmentation) and building targets. stopped_by: "epochs", "time", "early_stopping".
    """

    checkpoint_path: str | None
    history: list[dict[str, Any]]
    epochs: int
    seconds: float
    device: str
    images_per_s: float
    data_share: float
    best_val_loss: float | None
    best_val_rmse_px: float | None
    stopped_by: str
    model: PoseNet = field(repr=False)


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    return torch.device(name)


def gpu_name() -> str | None:
    """The CUDA device's name (what benchmarks record beside their figures), None without one."""
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def autocast(device: torch.device, train_cfg: TrainConfig) -> torch.autocast:
    """bf16 mixed precision on CUDA when `train_cfg.mixed_precision` (bf16 needs no loss
    scaling); a no-op context on the CPU."""
    enabled = device.type == "cuda" and train_cfg.mixed_precision
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def split_samples(
    samples: Sequence[PoseSample], val_fraction: float, seed: int
) -> tuple[list[PoseSample], list[PoseSample]]:
    """Random (seeded) train/validation split; at least one validation sample if fraction > 0."""
    order = np.random.default_rng(seed).permutation(len(samples))
    n_val = max(1, round(len(samples) * val_fraction)) if val_fraction > 0 else 0
    n_val = min(n_val, len(samples) - 1)
    return [samples[i] for i in order[n_val:]], [samples[i] for i in order[:n_val]]


def lr_factor(progress: float, warmup_frac: float) -> float:
    """Linear warmup then cosine to zero, as a function of run progress in [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup_frac:
        return max(progress / warmup_frac, 1e-3)
    span = max(1e-9, 1.0 - warmup_frac)
    return 0.5 * (1.0 + math.cos(math.pi * (progress - warmup_frac) / span))


def _seed_worker(worker_id: int) -> None:
    info = get_worker_info()
    if info is not None:
        info.dataset.rng = np.random.default_rng(info.seed % 2**32)


def _init_model(model_cfg: ModelConfig, init_checkpoint: str | None,
                keypoint_names: Sequence[str] | None = None,
                init_mapping: Mapping[str, str | None] | None = None) -> PoseNet:
    """Fresh weights, the checkpoint's own weights (same body parts), or a transfer of its
    backbone and matched body parts' heads (`transfer.transfer_into`) when its body parts differ
    from `keypoint_names` or a mapping is given."""
    if init_checkpoint is None:
        return build_model(model_cfg)
    ckpt = load_checkpoint(init_checkpoint)
    source_names = ckpt.get("keypoint_names")
    if keypoint_names is not None and source_names and (
            init_mapping is not None or list(source_names) != list(keypoint_names)):
        model, report = transferred_model(ckpt, model_cfg, keypoint_names, init_mapping)
        logger.info("warm start by transfer: matched %s, fresh %s", report.matched, report.fresh)
        return model
    old = ckpt["model_config"]
    mismatched = [k for k in _ARCHITECTURE_KEYS if old.get(k) != getattr(model_cfg, k)]
    if mismatched:
        raise ValueError(f"init checkpoint does not match the model config in {mismatched}")
    model = build_model(dataclasses.replace(model_cfg, pretrained=None))
    model.load_state_dict(ckpt["state_dict"])
    return model


def ramped_ema(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], Any], None]:
    """AveragedModel `multi_avg_fn`: EMA whose decay ramps up to `decay` over the first steps."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: Any) -> None:
        steps = float(n)
        d = min(decay, (1.0 + steps) / (10.0 + steps))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1.0 - d)
        else:  # batch-norm step counters: keep the latest
            for a, c in zip(averaged, current, strict=True):
                a.copy_(c)

    return update


def _make_ema(model: PoseNet, decay: float) -> AveragedModel | None:
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=ramped_ema(decay), use_buffers=True)


@dataclass
class _Counters:
    """Running totals across epochs (wall-clock seconds measured with perf_counter)."""

    start: float
    step: int = 0
    images: int = 0
    data_s: float = 0.0
    compute_s: float = 0.0
    temporal: list[float] = field(default_factory=list)  # this epoch's temporal losses


def _train_epoch(
    model: PoseNet,
    loader: DataLoader[dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    device: torch.device,
    memory_format: torch.memory_format,
    counters: _Counters,
    should_stop: Callable[[], bool] | None,
    ema: AveragedModel | None = None,
    pairs: Iterator[dict[str, torch.Tensor]] | None = None,
) -> tuple[list[float], bool]:
    """One pass over `loader`; returns the step losses and whether the time budget ran out.
    With `pairs` (batches of `temporal.FramePairs`), each step adds the temporal loss."""
    budget_s = train_cfg.max_minutes * 60.0
    total_steps = max(1, train_cfg.max_epochs * len(loader))
    stride = model_cfg.heatmap_stride
    model.train()
    losses: list[float] = []
    fetch_start = time.perf_counter()
    for batch in loader:
        if should_stop is not None and should_stop():
            raise TrainingCancelled(f"cancelled at step {counters.step}")
        images = batch["image"].to(device, non_blocking=True).float().div_(255)
        images = images.contiguous(memory_format=memory_format)
        targets = make_targets(
            batch["keypoints"].to(device), batch["weights"].to(device),
            (images.shape[-2] // stride, images.shape[-1] // stride), stride,
            model_cfg.sigma_px, model_cfg.locref_radius_px, model_cfg.locref_scale_px,
            batch.get("channels"), model_cfg.num_keypoints,
        )
        compute_start = time.perf_counter()
        counters.data_s += compute_start - fetch_start
        run_progress = max(counters.step / total_steps, (compute_start - counters.start) / budget_s)
        for group in optimizer.param_groups:
            group["lr"] = train_cfg.lr * lr_factor(run_progress, train_cfg.warmup_frac)
        with autocast(device, train_cfg):
            heat_logits, locref = model(images)
        loss, _ = pose_loss(
            heat_logits, locref, targets, train_cfg.locref_loss_weight
        )
        total = loss
        if pairs is not None:  # the history's train_loss stays the pose loss
            total = loss + _temporal_term(model, next(pairs), model_cfg, train_cfg, device,
                                          memory_format, counters)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        if ema is not None:
            ema.update_parameters(model)
        losses.append(float(loss.detach()))
        counters.step += 1
        counters.images += images.shape[0]
        fetch_start = time.perf_counter()
        counters.compute_s += fetch_start - compute_start
        if fetch_start - counters.start >= budget_s:
            return losses, True
    return losses, False


def _temporal_term(model: PoseNet, batch: dict[str, torch.Tensor], model_cfg: ModelConfig,
                   train_cfg: TrainConfig, device: torch.device,
                   memory_format: torch.memory_format, counters: _Counters) -> torch.Tensor:
    """temporal_weight x the temporal loss of one batch of frame pairs (in sigmas)."""
    n = batch["a"].shape[0]
    images = torch.cat([batch["a"], batch["b"]]).to(device, non_blocking=True).float().div_(255)
    with autocast(device, train_cfg), frozen_norm_statistics(model):
        heat_logits, locref = model(images.contiguous(memory_format=memory_format))
    xy, confidence = soft_keypoints(heat_logits, locref, model_cfg.heatmap_stride,
                                    model_cfg.locref_scale_px)
    value = temporal_loss(xy[:n], xy[n:], confidence[:n], confidence[n:],
                          train_cfg.temporal_margin_px) / model_cfg.sigma_px
    counters.temporal.append(float(value.detach()))
    return train_cfg.temporal_weight * value


def train(
    train_samples: Sequence[PoseSample],
    val_samples: Sequence[PoseSample] | None,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    *,
    init_checkpoint: str | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | None = None,
    keypoint_names: Sequence[str] | None = None,
    init_mapping: Mapping[str, str | None] | None = None,
    frame_pairs: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> TrainResult:
    """Train a PoseNet and keep the epoch with the best validation score (`select_by`).

    Without `val_samples`, `train_cfg.val_fraction` of `train_samples` is held out (0 = none;
    then the last epoch is kept). `init_checkpoint` warm-starts from an earlier model: with the
    same body parts as `keypoint_names` its weights are loaded as they are (architecture and
    keypoint count must match, else ValueError); with other body parts (or an `init_mapping`,
    target part -> source part or None) its backbone and the matched parts' heads are
    transferred (`transfer.transfer_into`; unmatched parts start fresh). The best checkpoint
    is written atomically to `checkpoint_path` whenever it improves. Raises TrainingCancelled when
    `should_stop()` (polled every step) returns True. Samples with `channels` (multi-peak
    channels, see `data.PoseSample`) must all have them and need select_by "val_loss" or "last".
    `frame_pairs`: unlabeled consecutive RGB frames (t, t+1) for `train_cfg.temporal_weight`
    (ValueError when the weight is set without them); each epoch's history then has
    "temporal_loss".
    """
    if train_cfg.temporal_weight > 0 and not frame_pairs:
        raise ValueError("temporal_weight needs frame_pairs (unlabeled consecutive frames)")
    train_samples, val_samples = _check_and_split(train_samples, val_samples, model_cfg, train_cfg)
    device = resolve_device(train_cfg.device)
    if train_cfg.num_threads:
        torch.set_num_threads(train_cfg.num_threads)
    torch.manual_seed(train_cfg.seed)
    # Near-zero gradients and optimizer states can become denormal floats, which CPUs process
    # slowly; flushing them to zero costs no accuracy. The flag is process-wide, so it is
    # switched off again afterwards (other code in a worker may rely on IEEE subnormals).
    torch.set_flush_denormal(True)
    try:
        return _fit(train_samples, val_samples, model_cfg, train_cfg, device, init_checkpoint,
                    progress, should_stop, checkpoint_path, keypoint_names, init_mapping,
                    frame_pairs)
    finally:
        torch.set_flush_denormal(False)


def _fit(
    train_samples: list[PoseSample],
    val_samples: list[PoseSample],
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    device: torch.device,
    init_checkpoint: str | None,
    progress: Callable[[TrainProgress], None] | None,
    should_stop: Callable[[], bool] | None,
    checkpoint_path: str | None,
    keypoint_names: Sequence[str] | None,
    init_mapping: Mapping[str, str | None] | None = None,
    frame_pairs: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> TrainResult:
    """The training loop of `train` (arguments already checked and split)."""
    memory_format = torch.channels_last if train_cfg.channels_last else torch.contiguous_format
    loader, val_ds = _make_data(train_samples, val_samples, model_cfg, train_cfg)
    pairs = None
    if train_cfg.temporal_weight > 0 and frame_pairs:
        pairs = endless_pairs(
            FramePairs(frame_pairs, model_cfg.input_scale, loader.dataset.size,  # type: ignore
                       seed=train_cfg.seed),
            train_cfg.temporal_pairs, train_cfg.seed)
    model = _init_model(model_cfg, init_checkpoint, keypoint_names, init_mapping)
    model = model.to(device, memory_format=memory_format)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay
    )
    ema = _make_ema(model, train_cfg.ema_decay)
    # What is validated, checkpointed and returned: the weight average when there is one.
    kept: PoseNet = ema.module if ema is not None else model  # type: ignore[assignment]
    budget_s = train_cfg.max_minutes * 60.0
    history: list[dict[str, Any]] = []
    best_score, best_state, best_epoch = math.inf, None, 0
    best_val: tuple[float, float] | None = None
    counters = _Counters(start=time.perf_counter())
    stopped_by, epoch = "epochs", 0
    for epoch in range(1, train_cfg.max_epochs + 1):
        losses, out_of_time = _train_epoch(
            model, loader, optimizer, model_cfg, train_cfg, device, memory_format, counters,
            should_stop, ema, pairs,
        )
        val = _validate(kept, val_ds, model_cfg, train_cfg, device, memory_format)
        elapsed = time.perf_counter() - counters.start
        train_loss = float(np.mean(losses)) if losses else math.nan
        val_loss = val[0] if val else None
        history.append({
            "epoch": epoch, "step": counters.step, "train_loss": train_loss, "val_loss": val_loss,
            "val_rmse_px": val[1] if val else None, "lr": optimizer.param_groups[0]["lr"],
            "elapsed_s": elapsed,
            **({"temporal_loss": float(np.mean(counters.temporal))} if counters.temporal else {}),
        })
        counters.temporal.clear()
        score = _score(val, train_cfg.select_by, epoch)
        if score < best_score:
            best_score, best_epoch, best_val = score, epoch, val
            best_state = copy.deepcopy(kept.state_dict())
            if checkpoint_path is not None:
                meta = {"epoch": epoch, "val_loss": val_loss, "train_config": train_cfg.to_dict()}
                save_checkpoint(checkpoint_path, kept, model_cfg, keypoint_names, meta)
        if progress is not None:
            remaining = max(0.0, budget_s - elapsed)
            eta = min(elapsed / epoch * (train_cfg.max_epochs - epoch), remaining)
            progress(TrainProgress(epoch, train_cfg.max_epochs, counters.step, train_loss,
                                   val_loss, elapsed, eta))
        logger.info("epoch %d step %d train %.5f val %s", epoch, counters.step, train_loss, val)
        if out_of_time:
            stopped_by = "time"
            break
        if val and epoch - best_epoch >= train_cfg.patience:
            stopped_by = "early_stopping"
            break
    if best_state is not None:
        kept.load_state_dict(best_state)
    busy_s = max(1e-9, counters.data_s + counters.compute_s)
    return TrainResult(
        checkpoint_path=checkpoint_path,
        history=history,
        epochs=epoch,
        seconds=time.perf_counter() - counters.start,
        device=str(device),
        images_per_s=counters.images / busy_s,
        data_share=counters.data_s / busy_s,
        best_val_loss=best_val[0] if best_val else None,
        best_val_rmse_px=best_val[1] if best_val else None,
        stopped_by=stopped_by,
        model=kept.eval(),
    )


def _check_and_split(
    train_samples: Sequence[PoseSample],
    val_samples: Sequence[PoseSample] | None,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
) -> tuple[list[PoseSample], list[PoseSample]]:
    if not train_samples:
        raise ValueError("no training samples")
    for sample in [*train_samples, *(val_samples or [])]:
        if sample.channels is not None:
            _check_slots(sample, model_cfg.num_keypoints, train_cfg.select_by)
        elif sample.keypoints.shape != (model_cfg.num_keypoints, 2):
            raise ValueError(f"{sample.image_path}: expected {model_cfg.num_keypoints} keypoints")
    if not val_samples and train_cfg.val_fraction > 0 and len(train_samples) > 1:
        return split_samples(train_samples, train_cfg.val_fraction, train_cfg.seed)
    return list(train_samples), list(val_samples or [])


def _check_slots(sample: PoseSample, num_channels: int, select_by: str) -> None:
    """A sample with channels: one channel per slot, each an output channel; such a model has
    no per-keypoint error to select by (several peaks per channel), so it selects by loss."""
    assert sample.channels is not None
    n = len(sample.keypoints)
    if sample.keypoints.shape != (n, 2) or sample.channels.shape != (n,):
        raise ValueError(f"{sample.image_path}: keypoints (S, 2) and channels (S,) must match")
    if n and not (sample.channels.min() >= 0 and sample.channels.max() < num_channels):
        raise ValueError(f"{sample.image_path}: channels must be in [0, {num_channels})")
    if select_by == "val_rmse":
        raise ValueError("samples with channels need select_by='val_loss' (or 'last')")


def _make_data(
    train_samples: list[PoseSample],
    val_samples: list[PoseSample],
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
) -> tuple[DataLoader[dict[str, torch.Tensor]], PoseDataset]:
    scale = model_cfg.input_scale
    augment = train_cfg.augment
    size = augment.crop_size or (
        auto_crop_size(train_samples, scale, augment.crop_margin_px)
        if augment.enabled
        else training_size(train_samples, scale)
    )
    train_ds = PoseDataset(train_samples, scale, size, train_cfg.augment, seed=train_cfg.seed)
    val_ds = PoseDataset(
        val_samples, scale, training_size(val_samples, scale) if val_samples else size, None
    )
    loader = DataLoader(
        train_ds,
        batch_size=train_cfg.batch_size,
        shuffle=True,
        drop_last=len(train_ds) > train_cfg.batch_size,
        num_workers=train_cfg.num_workers,
        persistent_workers=train_cfg.num_workers > 0,
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(train_cfg.seed),
    )
    return loader, val_ds


def _score(val: tuple[float, float] | None, select_by: str, epoch: int) -> float:
    """Lower is better; without validation, or with select_by="last", the latest epoch wins."""
    if val is None or select_by == "last":
        return -float(epoch)
    return val[1] if select_by == "val_rmse" else val[0]


@torch.no_grad()
def _validate(
    model: PoseNet,
    dataset: PoseDataset,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    device: torch.device,
    memory_format: torch.memory_format,
) -> tuple[float, float] | None:
    """(mean loss, RMSE in network-input pixels / input_scale) over the validation set."""
    if len(dataset) == 0:
        return None
    model.eval()
    total, count, sq_errors = 0.0, 0, []
    loader = DataLoader(dataset, batch_size=train_cfg.batch_size, shuffle=False)
    for batch in loader:
        images = batch["image"].to(device).float().div_(255).contiguous(memory_format=memory_format)
        with autocast(device, train_cfg):
            heat_logits, locref = model(images)
        heat_logits = heat_logits.float()
        locref = None if locref is None else locref.float()
        keypoints, weights = batch["keypoints"].to(device), batch["weights"].to(device)
        targets = make_targets(
            keypoints, weights, tuple(heat_logits.shape[-2:]), model_cfg.heatmap_stride,
            model_cfg.sigma_px, model_cfg.locref_radius_px, model_cfg.locref_scale_px,
            batch.get("channels"), model_cfg.num_keypoints,
        )
        loss, _ = pose_loss(
            heat_logits, locref, targets, train_cfg.locref_loss_weight
        )
        total += float(loss) * images.shape[0]
        count += images.shape[0]
        if "channels" in batch:  # several peaks per channel: no per-keypoint error
            continue
        xy, _ = decode(model_cfg, torch.sigmoid(heat_logits), locref)
        dist = (xy - keypoints).norm(dim=-1) / model_cfg.input_scale
        sq_errors.append(dist[weights > 0])
    errors = torch.cat(sq_errors) if sq_errors else torch.zeros(0)
    return total / max(1, count), float(errors.mean()) if errors.numel() else math.nan

"""What the multi-animal training runs share: validation frames and the resolved config,
progress across stages, the per-stage TrainConfig, the scratch directory, and the end-to-end
validation figures stored with the checkpoint."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from learning.engine.checkpoint import save_payload
from learning.engine.config import AugmentConfig, TrainConfig
from learning.engine.data import load_image
from learning.engine.multi.match import matched_errors
from learning.engine.multi.samples import MultiSample, split_frames
from learning.engine.train import TrainProgress


@dataclass(frozen=True)
class MultiProgress:
    """Reported after every epoch of every stage; `fraction` (0..1) is of the whole run."""

    stage: str
    fraction: float
    train: TrainProgress


class Predictor(Protocol):
    """What `evaluate_frames` needs of a predictor."""

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]: ...


def validation_frames(
    train: Sequence[MultiSample], val: Sequence[MultiSample] | None, fraction: float, seed: int
) -> tuple[list[MultiSample], list[MultiSample]]:
    """`val` as given, else a seeded `fraction` of the training frames (whole frames, so the
    animals of one frame never sit on both sides)."""
    if not train:
        raise ValueError("no training samples")
    if val:
        return list(train), list(val)
    return split_frames(train, fraction, seed) if fraction > 0 else (list(train), [])


def prepared_frames(
    train: Sequence[MultiSample], val: Sequence[MultiSample] | None, cfg: Any,
    keypoint_names: Sequence[str],
) -> tuple[list[MultiSample], list[MultiSample], Any]:
    """(train frames, validation frames, `cfg` resolved on the train frames); ValueError when
    a frame's animals do not have one point per keypoint name."""
    train_set, val_set = validation_frames(train, val, cfg.val_fraction, cfg.seed)
    k = len(keypoint_names)
    if any(s.keypoints.shape[1:] != (k, 2) for s in [*train_set, *val_set] if len(s.keypoints)):
        raise ValueError(f"samples must have {k} keypoints per animal")
    return train_set, val_set, cfg.resolve(train_set)


def stage_progress(
    progress: Callable[[MultiProgress], None] | None, stage: str, start: float, share: float,
    minutes: float,
) -> Callable[[TrainProgress], None] | None:
    """Adapter from one stage's TrainProgress to MultiProgress; the stage fills
    [start, start + share] of the run, by epochs or time, whichever is further."""
    if progress is None:
        return None
    budget_s = max(1e-9, minutes * 60)

    def report(p: TrainProgress) -> None:
        done = min(1.0, max(p.epoch / p.max_epochs, p.elapsed_s / budget_s))
        progress(MultiProgress(stage, start + share * done, p))

    return report


def stage_train_config(cfg: Any, minutes: float, augment: AugmentConfig, *, has_val: bool,
                       select_by: str) -> TrainConfig:
    """The engine TrainConfig of one stage: the multi config's optimisation fields, `minutes`
    of budget, validation on the frames given (never a second split)."""
    return TrainConfig(
        max_epochs=cfg.max_epochs, max_minutes=max(minutes, 1e-3), batch_size=cfg.batch_size,
        lr=cfg.lr, seed=cfg.seed,
        device=cfg.device, num_threads=cfg.num_threads, val_fraction=0.0,
        select_by=select_by if has_val else "val_loss", augment=augment,
    )


@contextlib.contextmanager
def scratch(workdir: str | None) -> Iterator[str]:
    """`workdir` (created, kept), or a temporary directory removed afterwards."""
    if workdir is not None:
        os.makedirs(workdir, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="poseloop-multi-") as tmp:
        yield tmp


def output_path(checkpoint_path: str | None, kind: str) -> str:
    """`checkpoint_path`, or a new file in the system's temporary directory."""
    if checkpoint_path is not None:
        return checkpoint_path
    fd, path = tempfile.mkstemp(prefix=f"poseloop-{kind}-", suffix=".pt")
    os.close(fd)
    return path


def evaluate_frames(predictor: Predictor, samples: Sequence[MultiSample]) -> dict[str, Any] | None:
    """`match.matched_errors` of the predictor on the labeled frames (None without any)."""
    if not samples:
        return None
    preds = predictor.predict([load_image(s.image_path) for s in samples])
    gts = [np.where(s.present[..., None], s.keypoints, np.nan) for s in samples]
    return matched_errors(preds, gts)


def save_evaluated(payload: dict[str, Any], predictor: Predictor, train_set: Sequence[MultiSample],
                   val_set: Sequence[MultiSample], checkpoint_path: str | None
                   ) -> tuple[str, dict[str, Any] | None]:
    """Evaluate the predictor of `payload` on the validation frames, store the figures in
    `payload["meta"]` and write it (atomically) to `checkpoint_path` or a new temporary
    file; returns (path, figures)."""
    figures = evaluate_frames(predictor, val_set)
    payload["meta"] = {"val": figures, "n_train": len(train_set), "n_val": len(val_set)}
    path = output_path(checkpoint_path, payload["kind"])
    save_payload(path, payload)
    return path, figures

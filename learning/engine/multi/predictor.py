"""What the top-down and bottom-up predictors share: loading a checkpoint file, the device a
payload asks for, and batched prediction with per-animal scores.

A subclass sets `KIND` (the checkpoint's "kind"), `config` (with `inference_batch`) and
implements `from_payload` and `_predict_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch

from learning.engine.train import resolve_device


class BatchedPredictor:
    """`predict` -> per frame float32 (n, K, 3) (x, y original pixels, likelihood); after a
    call `instance_scores` holds per frame float32 (n,), the subclass's score of each animal."""

    KIND: ClassVar[str]
    config: Any
    instance_scores: list[np.ndarray]

    @classmethod
    def from_payload(cls, payload: dict[str, Any], device: str | torch.device | None = None
                     ) -> Self:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str, device: str | torch.device | None = None) -> Self:
        """From a checkpoint file written by the matching training run (default: CPU)."""
        return cls.from_payload(torch.load(path, map_location="cpu", weights_only=True), device)

    @classmethod
    def payload_device(cls, payload: dict[str, Any], device: str | torch.device | None
                       ) -> torch.device:
        """The device to load on (CPU by default); ValueError for another kind's payload."""
        if payload.get("kind") != cls.KIND:
            raise ValueError(f"not a {cls.KIND} checkpoint: {payload.get('kind')!r}")
        return resolve_device(str(device)) if device is not None else torch.device("cpu")

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Poses per frame; images are uint8 RGB (H, W, 3)."""
        poses, scores = self.predict_with_scores(images)
        self.instance_scores = scores
        return poses

    def predict_with_scores(self, images: Sequence[np.ndarray]
                            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(poses per frame (n, K, 3), instance scores per frame (n,)), in batches of
        `config.inference_batch` frames."""
        poses: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        step = self.config.inference_batch
        for i in range(0, len(images), step):
            batch_poses, batch_scores = self._predict_batch(images[i : i + step])
            poses += batch_poses
            scores += batch_scores
        return poses, scores

    def _predict_batch(self, images: Sequence[np.ndarray]
                       ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        raise NotImplementedError

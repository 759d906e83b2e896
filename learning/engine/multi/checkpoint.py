"""Multi-animal checkpoint files: one torch dict whose "kind" says which predictor reads it."""

from __future__ import annotations

from typing import Any

import torch

from learning.engine.multi.bottomup import BottomUpPredictor
from learning.engine.multi.topdown import TopDownPredictor

PREDICTORS: dict[str, type[TopDownPredictor] | type[BottomUpPredictor]] = {
    "topdown": TopDownPredictor,
    "bottomup": BottomUpPredictor,
}


def read_multi_checkpoint(path: str) -> dict[str, Any]:
    """The raw checkpoint dict; ValueError when it is no multi-animal checkpoint."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("kind") not in PREDICTORS:
        raise ValueError(f"{path} is not a multi-animal checkpoint (kind "
                         f"{payload.get('kind') if isinstance(payload, dict) else None!r})")
    return payload


def load_predictor(path: str, device: str | torch.device | None = None
                   ) -> TopDownPredictor | BottomUpPredictor:
    """The predictor of a checkpoint written by `train_topdown` or `train_bottomup`."""
    payload = read_multi_checkpoint(path)
    return PREDICTORS[payload["kind"]].from_payload(payload, device)

"""Transfer learning: start a network for one set of body parts from a checkpoint trained on
another (another project, a zoo model).

What is copied: the whole backbone and the head's trunk (lateral and smooth convolutions), which
only depend on the backbone, `head_channels` and `heatmap_stride`; and, for each target body
part mapped to a source body part, that part's heatmap filter (one output channel of
`heatmap`) and its two location-refinement filters (channels 2k and 2k+1 of `locref`, viewed
as (K, 2)). Unmapped body parts keep the fresh initialisation of `PoseNet`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from learning.engine.config import ModelConfig
from learning.engine.network import PoseNet

# Must be equal in source and target for the backbone and head trunk to be copied.
TRUNK_KEYS = ("backbone", "head_channels", "heatmap_stride")
_HEADS = ("heatmap.", "locref.")


# Words that name a side, wherever they stand in a part's name ("Ear_L", "left ear", "earLeft").
_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}
# The same point under two common names; the key uses the second.
_SYNONYMS = {"snout": "nose", "tailroot": "tailbase"}


def _words(name: str) -> list[str]:
    """Lower-case words of a name split at separators, camelCase and digits
    ("forelegL1" -> foreleg, l, 1; "Tail-Base" -> tail, base)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", " ",
                    name)
    return [w.casefold() for w in re.split(r"[\s_\-.:/]+", spaced) if w]


def normalise_name(name: str) -> str:
    """Comparison key of a body part name: case and separators ignored, the side read from
    "left"/"right"/"L"/"R" wherever it stands, "snout" taken as "nose" ("Left_Ear" ==
    "left ear" == "leftear" == "Ear_L" == "earLeft"; "leftear" != "rightear")."""
    words = _words(name)
    side = ""
    rest: list[str] = []
    for word in words:
        if word in _SIDES and not side:
            side = _SIDES[word]
            continue
        glued = next((s for s in ("left", "right") if word != s and
                      (word.startswith(s) or word.endswith(s))), None)
        if glued and not side:  # "leftear", "earright"
            side = glued
            word = word.removeprefix(glued) if word.startswith(glued) else word.removesuffix(glued)
        rest.append(word)
    body = "".join(rest)
    body = _SYNONYMS.get(body, body)
    return f"{side}:{body}" if side else body


def default_mapping(source_names: Sequence[str],
                    target_names: Sequence[str]) -> dict[str, str | None]:
    """Target body part -> the source body part of the same (normalised) name, else None."""
    by_key: dict[str, str] = {}
    for name in source_names:
        by_key.setdefault(normalise_name(name), name)
    return {name: by_key.get(normalise_name(name)) for name in target_names}


@dataclass
class TransferReport:
    """What `transfer_into` did: `matched` target -> source part whose head was copied,
    `fresh` the target parts left at their fresh initialisation."""

    copied_backbone: bool
    matched: dict[str, str]
    fresh: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-safe)."""
        return dataclasses.asdict(self)


def _check_trunk(source_cfg: Mapping[str, Any], target_cfg: ModelConfig) -> None:
    different = [f"{k} {source_cfg.get(k)!r} vs {getattr(target_cfg, k)!r}"
                 for k in TRUNK_KEYS if source_cfg.get(k) != getattr(target_cfg, k)]
    if different:
        raise ValueError("cannot transfer: the source model's network differs from the target's "
                         f"(source vs target: {'; '.join(different)})")


def _resolve(mapping: Mapping[str, str | None] | None, source_names: Sequence[str],
             target_names: Sequence[str]) -> dict[str, str]:
    """Checked {target part: source part} of the mapped parts only."""
    if mapping is None:
        mapping = default_mapping(source_names, target_names)
    unknown_targets = sorted(set(mapping) - set(target_names))
    if unknown_targets:
        raise ValueError(f"mapping names body parts the target does not have: {unknown_targets}")
    unknown_sources = sorted({s for s in mapping.values() if s is not None}
                             - set(source_names))
    if unknown_sources:
        raise ValueError(f"mapping names body parts the source model does not have: "
                         f"{unknown_sources} (it has {list(source_names)})")
    return {t: s for t, s in mapping.items() if s is not None}


@torch.no_grad()
def transfer_into(model: PoseNet, source_ckpt: dict[str, Any], target_names: Sequence[str],
                  mapping: Mapping[str, str | None] | None = None) -> TransferReport:
    """Copy the source checkpoint's backbone, head trunk and mapped body parts' heads into
    `model` (in place). `mapping`: target part -> source part or None (default: by name,
    `default_mapping`). ValueError when the networks differ in backbone, head channels or
    heatmap stride, when the names do not fit the model, or the mapping names unknown parts.
    """
    target_names = list(target_names)
    if len(target_names) != model.cfg.num_keypoints:
        raise ValueError(f"{len(target_names)} target names for a model with "
                         f"{model.cfg.num_keypoints} keypoints")
    source_names = list(source_ckpt.get("keypoint_names") or [])
    if not source_names:
        raise ValueError("the source checkpoint does not name its body parts (keypoint_names)")
    _check_trunk(source_ckpt["model_config"], model.cfg)
    pairs = _resolve(mapping, source_names, target_names)
    state = source_ckpt["state_dict"]
    own = model.state_dict()
    trunk = {k: v for k, v in state.items() if not k.startswith(_HEADS)}
    mismatched = sorted(k for k, v in trunk.items() if k not in own or own[k].shape != v.shape)
    if mismatched or set(trunk) != {k for k in own if not k.startswith(_HEADS)}:
        raise ValueError(f"cannot transfer: the networks' layers differ ({mismatched[:3]}…)")
    model.load_state_dict(trunk, strict=False)
    src_index = {name: i for i, name in enumerate(source_names)}
    has_locref = model.locref is not None and "locref.weight" in state
    for t, name in enumerate(target_names):
        if name not in pairs:
            continue
        s = src_index[pairs[name]]
        model.heatmap.weight[t].copy_(state["heatmap.weight"][s])
        model.heatmap.bias[t].copy_(state["heatmap.bias"][s])
        if has_locref:
            assert model.locref is not None
            rows, src_rows = slice(2 * t, 2 * t + 2), slice(2 * s, 2 * s + 2)
            model.locref.weight[rows].copy_(state["locref.weight"][src_rows])
            model.locref.bias[rows].copy_(state["locref.bias"][src_rows])
    return TransferReport(copied_backbone=True,
                          matched={n: pairs[n] for n in target_names if n in pairs},
                          fresh=[n for n in target_names if n not in pairs])


def transferred_model(source_ckpt: dict[str, Any], target_cfg: ModelConfig,
                      target_names: Sequence[str],
                      mapping: Mapping[str, str | None] | None = None
                      ) -> tuple[PoseNet, TransferReport]:
    """A new PoseNet for `target_cfg` (no ImageNet weights: the source's replace them) with
    the source checkpoint transferred into it (`transfer_into`)."""
    model = PoseNet(dataclasses.replace(target_cfg, pretrained=None))
    return model, transfer_into(model, source_ckpt, target_names, mapping)

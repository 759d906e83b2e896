"""COCO keypoints JSON: export and strictly validated import.

Each keypoint is ``x, y, v`` with v = 0 not labeled, 1 labeled but occluded, 2 visible;
skeleton edges are 1-based keypoint index pairs. One annotation per labeled individual.

With several (or named) individuals, each annotation says whose it is: ``attributes.object_id``
(1-based individual number, as sleap-io writes and reads tracks) and ``track`` (its name).
Reading, annotations with such ids go to one slot per id, so an animal missing from some
images keeps its slot; without ids, slots follow annotation order on each image.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FormatError
from .pose import NOT_PRESENT, LabeledFrames


def to_coco(
    frames: LabeledFrames, category_name: str = "animal", supercategory: str = "animal"
) -> dict[str, Any]:
    """COCO keypoints dict for ``frames`` (which must carry image sizes).

    Image ids and annotation ids count from 1; an individual with no labeled point gets
    no annotation. The bbox spans the labeled points (v > 0). Several or named individuals
    add ``attributes.object_id`` and ``track`` to each annotation (see the module doc).
    """
    if frames.image_sizes is None:
        raise FormatError("COCO export needs the image sizes")
    vis = frames.visibility_or_default()
    bodyparts = frames.bodyparts
    index = {name: i + 1 for i, name in enumerate(bodyparts)}
    images = [
        {"id": i + 1, "file_name": path, "width": w, "height": h}
        for i, (path, (w, h)) in enumerate(zip(frames.image_paths, frames.image_sizes, strict=True))
    ]
    annotations: list[dict[str, Any]] = []
    tracked = frames.individuals is not None or frames.n_individuals > 1
    names = frames.individual_names()
    for f in range(frames.n_frames):
        for ind in range(frames.n_individuals):
            v = vis[f, ind]
            if not v.any():
                continue
            xy = np.nan_to_num(frames.keypoints[f, ind], nan=0.0)
            labeled = xy[v > NOT_PRESENT]
            x0, y0 = labeled.min(axis=0)
            x1, y1 = labeled.max(axis=0)
            flat = np.column_stack([xy, v]).ravel()
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": f + 1,
                    "category_id": 1,
                    "keypoints": [int(x) if i % 3 == 2 else float(x) for i, x in enumerate(flat)],
                    "num_keypoints": int((v > NOT_PRESENT).sum()),
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "area": float((x1 - x0) * (y1 - y0)),
                    "iscrowd": 0,
                }
            )
            if tracked:
                annotations[-1]["attributes"] = {"object_id": ind + 1}
                annotations[-1]["track"] = names[ind]
    category = {
        "id": 1,
        "name": category_name,
        "supercategory": supercategory,
        "keypoints": list(bodyparts),
        "skeleton": [[index[a], index[b]] for a, b in frames.skeleton],
    }
    return {"images": images, "annotations": annotations, "categories": [category]}


def write_coco(path: str | Path, frames: LabeledFrames, category_name: str = "animal") -> Path:
    """Write ``to_coco(frames)`` as JSON to ``path``."""
    path = Path(path)
    path.write_text(json.dumps(to_coco(frames, category_name), indent=1), encoding="utf-8")
    return path


def read_coco(path: str | Path, category_id: int | None = None) -> LabeledFrames:
    """Read and validate a COCO keypoints JSON file; see :func:`from_coco`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read file ({exc})", path) from exc
    if not text.strip():
        raise FormatError("file is empty", path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON ({exc})", path) from exc
    try:
        return from_coco(data, category_id)
    except FormatError as exc:
        raise FormatError(exc.problem, path) from exc


def _require(obj: Any, keys: tuple[str, ...], what: str) -> None:
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be an object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise FormatError(f"{what} lacks key(s) {', '.join(missing)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pick_category(categories: Any, category_id: int | None) -> dict[str, Any]:
    if not isinstance(categories, list) or not categories:
        raise FormatError("'categories' must be a non-empty list")
    for i, cat in enumerate(categories):
        _require(cat, ("id", "name"), f"category #{i}")
    with_kp = [c for c in categories if "keypoints" in c]
    if category_id is not None:
        chosen = [c for c in with_kp if c["id"] == category_id]
        if not chosen:
            raise FormatError(f"no keypoint category with id {category_id}")
        return chosen[0]
    if len(with_kp) != 1:
        raise FormatError(
            f"expected exactly one category with keypoints, found {len(with_kp)}; "
            "pass category_id to choose"
        )
    return with_kp[0]


def _check_images(images: Any) -> list[dict[str, Any]]:
    if not isinstance(images, list):
        raise FormatError("'images' must be a list")
    for i, img in enumerate(images):
        _require(img, ("id", "file_name", "width", "height"), f"image #{i}")
        if not _is_int(img["id"]):
            raise FormatError(f"image #{i} id must be an integer, got {img['id']!r}")
        for key in ("width", "height"):
            if not _is_int(img[key]) or img[key] <= 0:
                raise FormatError(f"image {img['id']} {key} must be a positive integer")
    for key in ("id", "file_name"):
        dupes = [v for v, n in Counter(img[key] for img in images).items() if n > 1]
        if dupes:
            raise FormatError(f"duplicate image {key}(s): {dupes[:5]}")
    return images


def _points(ann: dict[str, Any], n_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints (K, 2) with NaN where v = 0, visibility (K,)) of one annotation."""
    flat = ann["keypoints"]
    label = f"annotation {ann['id']}"
    if not isinstance(flat, list) or len(flat) != 3 * n_parts:
        size = len(flat) if isinstance(flat, list) else type(flat).__name__
        raise FormatError(f"{label}: keypoints must be a list of {3 * n_parts} numbers, got {size}")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in flat):
        raise FormatError(f"{label}: keypoints must all be numbers")
    if not all(math.isfinite(x) for x in flat):
        raise FormatError(f"{label}: keypoints contain NaN or infinite values")
    arr = np.asarray(flat, dtype=np.float64).reshape(n_parts, 3)
    vis = arr[:, 2]
    if not np.isin(vis, (0, 1, 2)).all():
        raise FormatError(f"{label}: visibility flags must be 0, 1 or 2")
    xy = arr[:, :2].copy()
    if (xy[vis > 0] < 0).any():
        raise FormatError(f"{label}: negative keypoint coordinates")
    xy[vis == 0] = np.nan
    return xy, vis.astype(np.int8)


def _skeleton(edges: Any, bodyparts: list[str]) -> list[tuple[str, str]]:
    """Name pairs from COCO's 1-based keypoint index pairs."""
    if not isinstance(edges, list):
        raise FormatError("the category's skeleton must be a list of index pairs")
    out = []
    for edge in edges:
        if not (isinstance(edge, list) and len(edge) == 2 and all(_is_int(i) for i in edge)):
            raise FormatError(f"skeleton edge {edge!r} is not a pair of keypoint numbers")
        if not all(1 <= i <= len(bodyparts) for i in edge):
            raise FormatError(f"skeleton edge {edge} refers past the {len(bodyparts)} keypoints")
        out.append((bodyparts[edge[0] - 1], bodyparts[edge[1] - 1]))
    return out


def _check_annotations(anns: Any, image_ids: set[int], category_ids: set[int]) -> list[Any]:
    if not isinstance(anns, list):
        raise FormatError("'annotations' must be a list")
    for i, ann in enumerate(anns):
        _require(ann, ("id", "image_id", "category_id", "keypoints"), f"annotation #{i}")
        if ann["category_id"] not in category_ids:
            raise FormatError(f"annotation {ann['id']} has unknown category {ann['category_id']}")
        if ann["image_id"] not in image_ids:
            raise FormatError(f"annotation {ann['id']} refers to unknown image {ann['image_id']}")
    dupes = [v for v, n in Counter(a["id"] for a in anns).items() if n > 1]
    if dupes:
        raise FormatError(f"duplicate annotation id(s): {dupes[:5]}")
    return anns


def _track_key(ann: dict[str, Any]) -> tuple[int | str, str] | None:
    """(id, name) of the individual an annotation belongs to, or None when it does not say.

    The id is ``attributes.object_id`` or ``track_id`` (sleap-io's keys), else the ``track``
    name; the name is ``track``, else sleap-io's ``track_<id>``.
    """
    attributes = ann.get("attributes")
    key = attributes.get("object_id") if isinstance(attributes, dict) else None
    key = ann.get("track_id") if key is None else key
    name = ann.get("track")
    if key is None and name is None:
        return None
    if key is not None and not (_is_int(key) or isinstance(key, str)):
        raise FormatError(f"annotation {ann['id']}: track id {key!r} is not an integer or name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise FormatError(f"annotation {ann['id']}: track {name!r} is not a non-empty name")
    return (name if key is None else key), (f"track_{key}" if name is None else name)


def _track_slots(anns: list[dict[str, Any]]) -> dict[int | str, str] | None:
    """Individual name per track id, in slot order (numeric ids sorted), or None if untracked."""
    keys = [_track_key(ann) for ann in anns]
    if all(k is None for k in keys):
        return None
    lacking = [ann["id"] for ann, k in zip(anns, keys, strict=True) if k is None]
    if lacking:
        raise FormatError(
            f"annotation(s) {lacking[:5]} name no track while others do; "
            "give every annotation a track or none"
        )
    pairs = [k for k in keys if k is not None]
    names: dict[int | str, str] = {}
    for ann, (key, name) in zip(anns, pairs, strict=True):
        if names.setdefault(key, name) != name:
            raise FormatError(
                f"annotation {ann['id']}: track id {key!r} is named both "
                f"{names[key]!r} and {name!r}"
            )
    if all(_is_int(k) for k in names):
        return {k: names[k] for k in sorted(names, key=int)}
    return names


def from_coco(data: Any, category_id: int | None = None) -> LabeledFrames:
    """LabeledFrames from a COCO keypoints dict, validated strictly.

    One frame per image (in file order, unlabeled images included, all points absent).
    Annotations that name their individual (``attributes.object_id``, ``track_id`` or
    ``track``) give one slot per individual, named in ``individuals``; otherwise
    individuals = the most annotations on one image, in annotation-id order.
    keypoints: float64 (frames, individuals, keypoints, 2); visibility int8, same leading
    shape. Skeleton and body part names come from the chosen category.
    """
    _require(data, ("images", "annotations", "categories"), "COCO file")
    category = _pick_category(data["categories"], category_id)
    bodyparts = category["keypoints"]
    if not isinstance(bodyparts, list) or not bodyparts:
        raise FormatError("the category's keypoints must be a non-empty list of names")
    skeleton = _skeleton(category.get("skeleton") or [], bodyparts)
    images = _check_images(data["images"])
    row = {img["id"]: i for i, img in enumerate(images)}
    anns = _check_annotations(data["annotations"], set(row), {c["id"] for c in data["categories"]})
    chosen = sorted((a for a in anns if a["category_id"] == category["id"]), key=lambda a: a["id"])
    tracks = _track_slots(chosen)
    slot = {key: j for j, key in enumerate(tracks or {})}
    # Per image, the slot and points of each annotation.
    per_image: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for ann in chosen:
        found = per_image.setdefault(ann["image_id"], [])
        key = _track_key(ann)
        if key is None:
            j = len(found)
        else:
            j = slot[key[0]]
            if any(j == other for other, _, _ in found):
                raise FormatError(
                    f"annotation {ann['id']}: image {ann['image_id']} has track {key[1]!r} twice"
                )
        found.append((j, *_points(ann, len(bodyparts))))
    n_ind = len(slot) if tracks else max([len(v) for v in per_image.values()], default=1)
    kp = np.full((len(images), n_ind, len(bodyparts), 2), np.nan)
    vis = np.zeros((len(images), n_ind, len(bodyparts)), dtype=np.int8)
    for image_id, found in per_image.items():
        for j, xy, v in found:
            kp[row[image_id], j], vis[row[image_id], j] = xy, v
    return LabeledFrames(
        image_paths=[img["file_name"] for img in images],
        bodyparts=bodyparts,
        keypoints=kp,
        visibility=vis,
        skeleton=skeleton,
        image_sizes=[(img["width"], img["height"]) for img in images],
        individuals=None if tracks is None else list(tracks.values()),
    )

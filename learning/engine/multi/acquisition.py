"""What makes a multi-animal frame worth labeling, from one model's predicted animals.

Each score is per frame, higher = more informative; `selection` combines them like the
single-animal ones (rank-normalised, weighted):

- ``count``: how far the number of animals found is from the expected number (a missed
  animal, two merged into one, or a false detection);
- ``confidence``: 1 - the mean part confidence of the least sure animal;
- ``touching``: how much the animals' bounding boxes overlap (intersection over the smaller
  box): touching and overlapping animals are where assembly and identity go wrong;
- ``assignment``: the share of predicted parts that lie nearer another animal's centre than
  their own (ambiguous assignment of parts to animals).

`weighted_ranks` combines them with ``coverage`` (how unlike the labeled frames' thumbnails a
frame is) as the platform's scoring and the oracle replay do.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from learning.engine.uncertainty import rank_normalize

COMPONENTS = ("count", "confidence", "touching", "assignment")
THUMBNAIL = 16
# Default weights of the scores and of "coverage" (a project's acquisition_weights may set them).
MULTI_WEIGHTS = {"count": 1.0, "confidence": 1.0, "touching": 0.75, "assignment": 0.75,
                 "coverage": 0.5}


def _present(animal: np.ndarray) -> np.ndarray:
    return np.isfinite(animal[:, :2]).all(axis=1)


def _box(animal: np.ndarray) -> np.ndarray | None:
    pts = animal[_present(animal), :2]
    if len(pts) == 0:
        return None
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two boxes (x0, y0, x1, y1) over the smaller one's area (0..1)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / smaller) if smaller > 0 else 0.0


def touching(animals: np.ndarray) -> float:
    """The largest overlap between two animals' boxes (0 with fewer than two)."""
    boxes = [b for b in (_box(a) for a in animals) if b is not None]
    return max((overlap(boxes[i], boxes[j]) for i in range(len(boxes))
                for j in range(i + 1, len(boxes))), default=0.0)


def assignment(animals: np.ndarray) -> float:
    """Share of parts nearer another animal's centre (mean of its parts) than their own."""
    centres = [animal[_present(animal), :2].mean(axis=0) if _present(animal).any() else None
               for animal in animals]
    if sum(c is not None for c in centres) < 2:
        return 0.0
    nearer = total = 0
    for i, animal in enumerate(animals):
        if centres[i] is None:
            continue
        pts = animal[_present(animal), :2]
        own = np.linalg.norm(pts - centres[i], axis=1)
        others = np.stack([np.linalg.norm(pts - c, axis=1)
                           for j, c in enumerate(centres) if j != i and c is not None])
        nearer += int((others.min(axis=0) < own).sum())
        total += len(pts)
    return nearer / total if total else 0.0


def frame_scores(animals: Sequence[np.ndarray], expected: int | None = None
                 ) -> dict[str, np.ndarray]:
    """Per-frame acquisition scores (see the module docstring) for each frame's animals
    (n_i, K, 3). `expected`: animals per frame (None: the most common count found)."""
    counts = np.array([int(_present_any(a).sum()) for a in animals])
    if expected is None:
        expected = int(np.bincount(counts).argmax()) if len(counts) else 0
    out = {name: np.zeros(len(animals)) for name in COMPONENTS}
    for f, found in enumerate(animals):
        found = found[_present_any(found)]
        out["count"][f] = abs(len(found) - expected)
        conf = [np.nanmean(a[_present(a), 2]) for a in found if _present(a).any()]
        out["confidence"][f] = 1.0 - (min(conf) if conf else 0.0)
        out["touching"][f] = touching(found)
        out["assignment"][f] = assignment(found)
    return out


def _present_any(animals: np.ndarray) -> np.ndarray:
    if len(animals) == 0:
        return np.zeros(0, dtype=bool)
    return np.isfinite(animals[..., :2]).all(axis=-1).any(axis=-1)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """float32 (THUMBNAIL**2,): a small grey, zero-mean, unit-norm picture of the frame, the
    embedding diversity and near-duplicate checks use for multi-animal frames."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)
    vec = small.astype(np.float32).ravel()
    vec -= vec.mean()
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def coverage(thumbs: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """(N,) 1 - the largest similarity of each candidate's thumbnail (N, D) to the labeled
    frames' (M, D): large = unlike anything labeled; all 1 without labeled frames."""
    if len(labeled) == 0:
        return np.ones(len(thumbs))
    return 1.0 - (np.asarray(thumbs) @ np.asarray(labeled).T).max(axis=1)


def weighted_ranks(raw: dict[str, np.ndarray], weights: dict[str, float]
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(scores (N,) in [0, 1], the rank-normalised components): each component's ranks
    (`uncertainty.rank_normalize`), averaged with `weights` (a missing name weighs 0)."""
    normed = {name: rank_normalize(values) for name, values in raw.items()}
    total_weight = sum(weights.get(n, 0.0) for n in normed) or 1.0
    n = len(next(iter(raw.values()))) if raw else 0
    scores = sum((weights.get(name, 0.0) * v for name, v in normed.items()), np.zeros(n))
    return np.asarray(scores) / total_weight, normed

"""PoseLoop's one pose vocabulary, shared by every format adapter.

Arrays are shaped ``(frames, individuals, keypoints, xy)``; a point that is not present is
NaN in both coordinates. Visibility, when a format carries it, follows COCO: 0 = not
present, 1 = labeled but occluded, 2 = visible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import FormatError

NOT_PRESENT, OCCLUDED, VISIBLE = 0, 1, 2


def check_names(names: Sequence[object], what: str) -> list[str]:
    """Return ``names`` as a list after checking they are unique, non-empty strings."""
    out = list(names)
    bad = [n for n in out if not isinstance(n, str) or not n.strip()]
    if bad:
        raise FormatError(f"{what} must be non-empty strings, got {bad[:5]!r}")
    dupes = sorted(n for n, count in Counter(out).items() if count > 1)
    if dupes:
        raise FormatError(f"duplicate {what}: {', '.join(dupes[:10])}")
    return out


def check_skeleton(
    skeleton: Sequence[Sequence[object]], bodyparts: Sequence[str]
) -> list[tuple[str, str]]:
    """Return skeleton edges as name pairs after checking each names two known body parts."""
    known = set(bodyparts)
    edges: list[tuple[str, str]] = []
    for edge in skeleton:
        if isinstance(edge, str) or len(edge) != 2:
            raise FormatError(f"skeleton edge {edge!r} is not a pair of body part names")
        a, b = edge
        unknown = [n for n in (a, b) if n not in known]
        if unknown:
            raise FormatError(
                f"skeleton edge {a!r}-{b!r} names unknown body part(s) {unknown!r}; "
                f"known: {', '.join(bodyparts)}"
            )
        if a == b:
            raise FormatError(f"skeleton edge joins {a!r} to itself")
        edges.append((str(a), str(b)))
    return edges


def visibility_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """Visibility implied by coordinates: 2 where present, 0 where NaN.

    ``keypoints`` (frames, individuals, keypoints, 2) -> int8 (frames, individuals, keypoints).
    """
    present = ~np.isnan(keypoints).any(axis=-1)
    return np.where(present, VISIBLE, NOT_PRESENT).astype(np.int8)


def default_individuals(count: int) -> list[str]:
    """Names for ``count`` anonymous individuals: individual_0, individual_1…"""
    return [f"individual_{i}" for i in range(count)]


@dataclass
class LabeledFrames:
    """Labeled images with their keypoints, as every adapter reads and writes them.

    Attributes:
        image_paths: one relative image path per frame, forward slashes, unique.
        bodyparts: keypoint names, unique, in array order.
        keypoints: float64 (frames, individuals, keypoints, 2); NaN = not present.
        visibility: int8 (frames, individuals, keypoints) in {0, 1, 2}, or None when the
            source only knows present/absent; 0 exactly where the coordinates are NaN.
        skeleton: edges as pairs of body part names.
        scorer: who labeled (DeepLabCut's scorer); may be empty.
        image_sizes: (width, height) per frame, or None when unknown.
        individuals: one name per individual (DeepLabCut's individuals, SLEAP's tracks), or
            None when the animals are anonymous; see :meth:`individual_names`.
    """

    image_paths: list[str]
    bodyparts: list[str]
    keypoints: np.ndarray
    visibility: np.ndarray | None = None
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    scorer: str = ""
    image_sizes: list[tuple[int, int]] | None = None
    individuals: list[str] | None = None

    def __post_init__(self) -> None:
        paths = check_names(self.image_paths, "image paths")
        self.image_paths = [p.replace("\\", "/") for p in paths]
        self.bodyparts = check_names(self.bodyparts, "body parts")
        self.skeleton = check_skeleton(self.skeleton, self.bodyparts)
        kp = np.asarray(self.keypoints, dtype=np.float64)
        expected = (len(self.image_paths), "individuals", len(self.bodyparts), 2)
        if kp.ndim != 4 or kp.shape[0] != expected[0] or kp.shape[2:] != expected[2:]:
            raise FormatError(
                f"keypoints must be shaped (frames, individuals, keypoints, 2) = {expected}, "
                f"got {kp.shape}"
            )
        if kp.shape[1] < 1:
            raise FormatError("keypoints need at least one individual")
        if np.isinf(kp).any():
            raise FormatError("keypoints contain infinite values")
        if (kp < 0).any():
            raise FormatError("keypoints contain negative coordinates")
        # A point is present or not: half-NaN pairs would be ambiguous downstream.
        if (np.isnan(kp[..., 0]) != np.isnan(kp[..., 1])).any():
            raise FormatError("a keypoint has one coordinate NaN and the other not")
        self.keypoints = kp
        if self.visibility is not None:
            self.visibility = self._checked_visibility(self.visibility)
        if self.image_sizes is not None:
            self.image_sizes = self._checked_sizes(self.image_sizes)
        if self.individuals is not None:
            self.individuals = check_names(self.individuals, "individuals")
            if len(self.individuals) != kp.shape[1]:
                raise FormatError(
                    f"{len(self.individuals)} individual names for {kp.shape[1]} individuals"
                )

    def _checked_visibility(self, visibility: np.ndarray) -> np.ndarray:
        vis = np.asarray(visibility)
        if vis.shape != self.keypoints.shape[:3]:
            raise FormatError(
                f"visibility must be shaped {self.keypoints.shape[:3]}, got {vis.shape}"
            )
        if not np.isin(vis, (NOT_PRESENT, OCCLUDED, VISIBLE)).all():
            raise FormatError("visibility values must be 0, 1 or 2")
        absent = np.isnan(self.keypoints[..., 0])
        if ((vis == NOT_PRESENT) != absent).any():
            raise FormatError("visibility 0 must match exactly the keypoints that are NaN")
        return vis.astype(np.int8)

    def _checked_sizes(self, sizes: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
        out = [(int(w), int(h)) for w, h in sizes]
        if len(out) != len(self.image_paths):
            raise FormatError(f"{len(out)} image sizes for {len(self.image_paths)} images")
        if any(w <= 0 or h <= 0 for w, h in out):
            raise FormatError("image sizes must be positive")
        return out

    @property
    def n_frames(self) -> int:
        """Number of labeled images."""
        return self.keypoints.shape[0]

    @property
    def n_individuals(self) -> int:
        """Number of individuals per image (1 for single-animal data)."""
        return self.keypoints.shape[1]

    def individual_names(self) -> list[str]:
        """``individuals``, or ``individual_0``, ``individual_1``… (movement's default names)."""
        if self.individuals is not None:
            return list(self.individuals)
        return default_individuals(self.n_individuals)

    def visibility_or_default(self) -> np.ndarray:
        """``visibility`` if known, else the one implied by NaN coordinates (int8)."""
        if self.visibility is not None:
            return self.visibility
        return visibility_from_keypoints(self.keypoints)

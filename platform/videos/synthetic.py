"""Synthetic animal videos and images with exact keypoints, for tests and demos.

The animal is a top-down cartoon: an elliptical body, a head, two ears, a tail, and a
coloured marker on each body part, moving along a smooth Lissajous path while it turns.
Everything is deterministic for a seed.

Pixel convention (the same as OpenCV drawing and DeepLabCut labels): the centre of pixel
``image[i, j]`` is the point ``(x=j, y=i)``; pixel ``(i, j)`` covers ``[j-0.5, j+0.5) x
[i-0.5, i+0.5)``. Parts are drawn anti-aliased with 4 fractional bits (``shift=4``), and
the keypoints returned are the drawn centres, already rounded to that 1/16 px grid, so they
are exactly where the markers are drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from videos.probe import count_decodable_frames

if TYPE_CHECKING:
    from projects.skeleton import SkeletonSpec

BODYPARTS: tuple[str, ...] = ("snout", "leftear", "rightear", "tailbase")
LEFT_RIGHT: tuple[tuple[str, str], ...] = (("leftear", "rightear"),)
SKELETON: tuple[tuple[str, str], ...] = (
    ("snout", "leftear"),
    ("snout", "rightear"),
    ("leftear", "rightear"),
    ("leftear", "tailbase"),
    ("rightear", "tailbase"),
)

# The one source of each part's colour: "#rrggbb" as a project's BodyPart.color holds it (the
# demo project is created with these), drawn in BGR as OpenCV wants. Saturated markers on a
# grey floor: snout red, left ear green, right ear blue, tail base yellow.
PART_HEX: dict[str, str] = {
    "snout": "#ff0000",
    "leftear": "#00c800",
    "rightear": "#003cff",
    "tailbase": "#ffdc00",
}


def hex_to_bgr(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> (blue, green, red) ints, OpenCV's channel order."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return (blue, green, red)


PART_COLORS: dict[str, tuple[int, int, int]] = {
    name: hex_to_bgr(color) for name, color in PART_HEX.items()
}


def skeleton_spec() -> SkeletonSpec:
    """The animal's skeleton as `projects.skeleton.set_skeleton` takes it, colours included,
    so a project's labeling page shows each part in the colour the video draws it."""
    return {
        "bodyparts": [{"name": name, "color": PART_HEX[name]} for name in BODYPARTS],
        "edges": [list(edge) for edge in SKELETON],
        "pairs": [list(pair) for pair in LEFT_RIGHT],
    }


BODY_COLOR = (55, 85, 135)
HEAD_COLOR = (75, 115, 175)
TAIL_COLOR = (90, 105, 150)
DEFAULT_BACKGROUND: tuple[int, int, int] = (115, 120, 112)

SHIFT = 4  # fractional bits for cv2 drawing: coordinates live on a 1/16 px grid
_ONE = 1 << SHIFT
MARGIN_UNITS = 38.0  # farthest keypoint extent from the body centre, in scale units

Color = tuple[int, int, int]


@dataclass(frozen=True)
class SyntheticVideo:
    """A written video and its ground truth.

    keypoints: (frames, 1, 4, 2) float64 pixel coordinates, order of BODYPARTS.
    scene_of_frame: (frames,) int index into the ``scenes`` segments.
    """

    path: Path
    keypoints: np.ndarray
    scene_of_frame: np.ndarray
    fps: float
    width: int
    height: int
    bodyparts: tuple[str, ...] = BODYPARTS

    @property
    def frame_count(self) -> int:
        return int(self.keypoints.shape[0])


@dataclass(frozen=True)
class SyntheticImages:
    """PNG images written by `write_images`; keypoints (images, 1, 4, 2) float64 pixels."""

    paths: list[Path]
    keypoints: np.ndarray
    frame_indices: list[int]
    bodyparts: tuple[str, ...] = BODYPARTS


@dataclass(frozen=True)
class _Motion:
    """Seeded parameters of the path (periods in frames, phases in radians)."""

    period_x: float
    period_y: float
    phase_x: float
    phase_y: float
    heading0: float
    turn_period: float
    wobble_period: float
    wobble_phase: float


def _motion(seed: int) -> _Motion:
    rng = np.random.default_rng([seed, 7919])
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return _Motion(
        period_x=float(rng.uniform(70, 110)),
        period_y=float(rng.uniform(50, 90)),
        phase_x=float(rng.uniform(0, 2 * math.pi)),
        phase_y=float(rng.uniform(0, 2 * math.pi)),
        heading0=float(rng.uniform(0, 2 * math.pi)),
        turn_period=sign * float(rng.uniform(90, 150)),
        wobble_period=float(rng.uniform(25, 45)),
        wobble_phase=float(rng.uniform(0, 2 * math.pi)),
    )


def _q(value: float) -> float:
    """Round to the 1/16 px drawing grid."""
    return round(value * _ONE) / _ONE


def _fx(point: np.ndarray) -> tuple[int, int]:
    """A point in pixels -> cv2 fixed-point integer coordinates."""
    return (round(float(point[0]) * _ONE), round(float(point[1]) * _ONE))


def _check_size(width: int, height: int) -> float:
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even (mp4 encoders need it): {width}x{height}")
    scale = min(width, height) / 120.0
    if width < 2 * MARGIN_UNITS * scale + 8 or height < 2 * MARGIN_UNITS * scale + 8:
        raise ValueError(f"frame {width}x{height} is too small for the animal")
    return scale


def _pose(index: int, width: int, height: int, motion: _Motion) -> dict[str, np.ndarray]:
    """Centre, unit heading and the construction points of frame `index`, in pixels."""
    s = min(width, height) / 120.0
    amp_x = width / 2 - (MARGIN_UNITS + 2) * s
    amp_y = height / 2 - (MARGIN_UNITS + 2) * s
    t = float(index)
    centre = np.array(
        [
            width / 2 + amp_x * math.sin(2 * math.pi * t / motion.period_x + motion.phase_x),
            height / 2 + amp_y * math.sin(2 * math.pi * t / motion.period_y + motion.phase_y),
        ]
    )
    heading = (
        motion.heading0
        + 2 * math.pi * t / motion.turn_period
        + 0.5 * math.sin(2 * math.pi * t / motion.wobble_period + motion.wobble_phase)
    )
    u = np.array([math.cos(heading), math.sin(heading)])
    # Image y points down, so the animal's left (seen from above) is (u_y, -u_x).
    left = np.array([u[1], -u[0]])
    head = centre + 25 * s * u
    points = {
        "centre": centre,
        "head": head,
        "snout": head + 9 * s * u,
        "leftear": head - 3 * s * u + 7 * s * left,
        "rightear": head - 3 * s * u - 7 * s * left,
        "tailbase": centre - 20 * s * u,
    }
    tail = [
        points["tailbase"] - 5 * s * k * u + 3 * s * math.sin(0.4 * t + 0.9 * k) * left
        for k in range(6)
    ]
    quantised = {name: np.array([_q(p[0]), _q(p[1])]) for name, p in points.items()}
    quantised["u"] = u
    quantised["tail"] = np.array(tail)
    return quantised


def _draw(image: np.ndarray, pose: dict[str, np.ndarray], scale: float) -> None:
    """Draw the animal in place; markers last, so each keypoint pixel shows its colour."""
    aa = cv2.LINE_AA
    angle = math.degrees(math.atan2(pose["u"][1], pose["u"][0]))
    tail = np.array([_fx(p) for p in pose["tail"]], dtype=np.int32)
    cv2.polylines(image, [tail], False, TAIL_COLOR, max(1, round(3 * scale)), aa, SHIFT)
    body_axes = (round(20 * scale * _ONE), round(11 * scale * _ONE))
    cv2.ellipse(image, _fx(pose["centre"]), body_axes, angle, 0, 360, BODY_COLOR, -1, aa, SHIFT)
    head_axes = (round(10 * scale * _ONE), round(7 * scale * _ONE))
    cv2.ellipse(image, _fx(pose["head"]), head_axes, angle, 0, 360, HEAD_COLOR, -1, aa, SHIFT)
    radii = {"snout": 2.5, "leftear": 4.0, "rightear": 4.0, "tailbase": 3.0}
    for name in BODYPARTS:
        radius = round(radii[name] * scale * _ONE)
        cv2.circle(image, _fx(pose[name]), radius, PART_COLORS[name], -1, aa, SHIFT)


def make_background(width: int, height: int, color: Color, seed: int, scene: int = 0) -> np.ndarray:
    """A textured arena floor: (height, width, 3) uint8 BGR around `color`."""
    rng = np.random.default_rng([seed, scene, 104729])
    coarse = rng.normal(0.0, 1.0, size=(max(2, height // 10), max(2, width // 10), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.asarray(color, dtype=np.float32)[None, None, :] + 14.0 * smooth
    for _ in range(4):  # a few faint straight scratches
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        shade = float(rng.choice([-22.0, 22.0]))
        mask = np.zeros((height, width), np.uint8)
        cv2.line(mask, p1, p2, 255, 1, cv2.LINE_AA)
        image += shade * (mask[:, :, None] / 255.0)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _keypoints(pose: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([pose[name] for name in BODYPARTS])[None, :, :]


def render_frame(
    index: int,
    *,
    width: int = 160,
    height: int = 120,
    seed: int = 0,
    background: Color | np.ndarray = DEFAULT_BACKGROUND,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame `index` of the synthetic animal, in memory.

    Returns (image (height, width, 3) uint8 BGR, keypoints (1, 4, 2) float64 pixels).
    `background` is a BGR colour (textured with `make_background`, scene 0) or a ready
    (height, width, 3) image. Same as the first scene of `generate_video` before encoding.
    """
    scale = _check_size(width, height)
    if isinstance(background, np.ndarray):
        if background.shape != (height, width, 3):
            raise ValueError(f"background shape {background.shape} != {(height, width, 3)}")
        image = background.copy()
    else:
        image = make_background(width, height, background, seed)
    pose = _pose(index, width, height, _motion(seed))
    _draw(image, pose, scale)
    return image, _keypoints(pose)


def _scene_plan(n_frames: int | None, scenes: Sequence[tuple[int, Color]] | None) -> np.ndarray:
    """(frames,) scene index per frame; validates the segment list."""
    if scenes is None:
        total = 90 if n_frames is None else n_frames
        if total <= 0:
            raise ValueError(f"n_frames must be positive, got {total}")
        return np.zeros(total, dtype=np.int64)
    lengths = [int(length) for length, _ in scenes]
    if not lengths or min(lengths) <= 0:
        raise ValueError(f"scenes need positive lengths, got {lengths}")
    if n_frames is not None and n_frames != sum(lengths):
        raise ValueError(f"n_frames={n_frames} but the scenes add up to {sum(lengths)}")
    return np.repeat(np.arange(len(lengths)), lengths)


def generate_video(
    path: str | Path,
    *,
    n_frames: int | None = None,
    width: int = 160,
    height: int = 120,
    fps: float = 30.0,
    seed: int = 0,
    scenes: Sequence[tuple[int, Color]] | None = None,
) -> SyntheticVideo:
    """Write an mp4 (MPEG-4 part 2, fourcc ``mp4v``) of the moving animal; return the truth.

    n_frames defaults to 90; with `scenes`, a list of (n_frames, background BGR) segments,
    the frame count is their sum (n_frames, if given, must agree). Each segment has its
    own background colour and texture. The written file is decoded back and must hold
    exactly that many frames.
    """
    scale = _check_size(width, height)
    plan = _scene_plan(n_frames, scenes)
    colors = [DEFAULT_BACKGROUND] if scenes is None else [tuple(c) for _, c in scenes]
    backgrounds = [make_background(width, height, c, seed, k) for k, c in enumerate(colors)]
    motion = _motion(seed)
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an mp4v video to {path}")
    keypoints = np.empty((len(plan), 1, len(BODYPARTS), 2), dtype=np.float64)
    try:
        for index, scene in enumerate(plan):
            image = backgrounds[scene].copy()
            pose = _pose(index, width, height, motion)
            _draw(image, pose, scale)
            keypoints[index] = _keypoints(pose)
            writer.write(image)
    finally:
        writer.release()
    decoded = count_decodable_frames(path)
    if decoded != len(plan):
        raise RuntimeError(f"{path} decodes to {decoded} frames, wrote {len(plan)}")
    return SyntheticVideo(path, keypoints, plan, float(fps), width, height)


def write_images(
    folder: str | Path,
    n: int,
    *,
    width: int = 160,
    height: int = 120,
    seed: int = 0,
    stride: int = 3,
    background: Color = DEFAULT_BACKGROUND,
) -> SyntheticImages:
    """Write `n` lossless PNGs ``img{frame:05d}.png`` of frames 0, stride, 2*stride, ….

    Returns the paths and keypoints (n, 1, 4, 2) float64 pixels.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = make_background(width, height, background, seed)
    indices = [k * stride for k in range(n)]
    paths: list[Path] = []
    keypoints = np.empty((n, 1, len(BODYPARTS), 2), dtype=np.float64)
    for k, index in enumerate(indices):
        image, keypoints[k] = render_frame(
            index, width=width, height=height, seed=seed, background=base
        )
        target = folder / f"img{index:05d}.png"
        if not cv2.imwrite(str(target), image):
            raise RuntimeError(f"cannot write {target}")
        paths.append(target)
    return SyntheticImages(paths, keypoints, indices)

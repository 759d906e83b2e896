"""Synthetic videos of several animals with exact keypoints, identities and scripted events.

Animals look alike (the same cartoon with five coloured markers), so their identities can only
be kept by tracking. They follow smooth scripted paths (PCHIP through waypoints of position
and heading) in a square arena that fills the frame's height; in every clip:

- animals 0 and 1 cross: their paths intersect while both walk, animal 1 drawn over animal 0;
- animals 0 and 1 touch: they meet snout to snout and stand a few frames;
- animal 1 leaves the frame at the bottom and comes back;
- animal 2 (when there are three) walks back and forth along the top, away from the others.

Event frame ranges are measured on the drawn silhouettes, not copied from the script.
Pixel convention as `videos.synthetic`: pixel ``image[i, j]`` is centred on ``(x=j, y=i)``;
keypoints are the drawn marker centres on the 1/16 px drawing grid, NaN outside the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator

from videos.probe import count_decodable_frames
from videos.synthetic import (
    BODY_COLOR,
    DEFAULT_BACKGROUND,
    HEAD_COLOR,
    PART_HEX,
    SHIFT,
    TAIL_COLOR,
    hex_to_bgr,
    make_background,
)

BODYPARTS: tuple[str, ...] = ("snout", "leftear", "rightear", "centre", "tailbase")
SKELETON: tuple[tuple[str, str], ...] = (
    ("snout", "leftear"),
    ("snout", "rightear"),
    ("leftear", "centre"),
    ("rightear", "centre"),
    ("centre", "tailbase"),
)
LEFT_RIGHT: tuple[tuple[str, str], ...] = (("leftear", "rightear"),)
MULTI_PART_HEX: dict[str, str] = {**PART_HEX, "centre": "#ff00ff"}
MULTI_PART_COLORS: dict[str, tuple[int, int, int]] = {
    name: hex_to_bgr(color) for name, color in MULTI_PART_HEX.items()
}

SCRIPT_FRAMES = 120  # waypoint times are in frames of a 120-frame clip, stretched to n_frames
ARENA = 256.0  # waypoint positions are in a 256 x 256 arena scaled to the frame's height
BODY_UNIT = 1.2  # arena units per body unit
_ONE = 1 << SHIFT
_RADII = {"snout": 2.0, "leftear": 3.0, "rightear": 3.0, "centre": 2.5, "tailbase": 2.5}

# (time, x, y, heading in degrees; image y points down, so 90 faces the bottom edge)
_WAYPOINTS: tuple[tuple[tuple[float, float, float, float], ...], ...] = (
    (  # animal 0
        (0, 40, 90, 35), (25, 128, 150, 35), (40, 185, 185, 50), (50, 195, 215, 110),
        (56, 175, 222, 170), (62, 154, 222, 180), (68, 152, 222, 180), (73, 153, 219, 235),
        (80, 165, 195, 280),
        (92, 178, 150, 270), (106, 195, 115, 250), (119, 180, 90, 235),
    ),
    (  # animal 1
        (0, 216, 90, 145), (25, 128, 150, 145), (40, 75, 185, 130), (50, 62, 215, 70),
        (56, 80, 222, 0), (62, 100, 222, 0), (68, 101, 222, 0), (74, 100, 232, 90),
        (86, 105, 290, 90), (94, 120, 292, 270), (108, 125, 228, 270), (119, 140, 185, 290),
    ),
    (  # animal 2
        (0, 60, 30, 0), (45, 195, 30, 0), (60, 215, 42, 90), (75, 195, 50, 180),
        (119, 50, 35, 180),
    ),
)
# Scripted moments each event's measured range must contain.
_CROSS_AT, _TOUCH_AT, _GONE_AT = 25, 65, 90


@dataclass(frozen=True)
class Event:
    """A scripted event on frames start..stop-1 (stop exclusive) involving `animals`."""

    kind: str  # "crossing", "touching" or "leaving"
    animals: tuple[int, ...]
    start: int
    stop: int

    @property
    def frames(self) -> range:
        return range(self.start, self.stop)


@dataclass(frozen=True)
class MultiAnimalTruth:
    """What a multi-animal clip shows.

    keypoints: (F, N, K, 2) float64 pixels, order of `bodyparts`; NaN outside the frame.
    visible: (F, N, K) bool, inside the frame and not covered by an animal drawn above.
    identities: N names, animal n is ``keypoints[:, n]`` in every frame.
    """

    keypoints: np.ndarray
    visible: np.ndarray
    identities: tuple[str, ...]
    events: tuple[Event, ...]
    width: int
    height: int
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]

    @property
    def frame_count(self) -> int:
        return int(self.keypoints.shape[0])

    def event(self, kind: str) -> Event:
        """The one event of `kind`."""
        return next(e for e in self.events if e.kind == kind)


@dataclass(frozen=True)
class SyntheticMultiVideo(MultiAnimalTruth):
    """A written mp4 and its truth."""

    path: Path = Path()
    fps: float = 30.0


def skeleton_spec() -> dict[str, list]:
    """The animals' skeleton as `projects.skeleton.set_skeleton` takes it, colours included."""
    return {
        "bodyparts": [{"name": name, "color": MULTI_PART_HEX[name]} for name in BODYPARTS],
        "edges": [list(edge) for edge in SKELETON],
        "pairs": [list(pair) for pair in LEFT_RIGHT],
    }


def _q(value: np.ndarray) -> np.ndarray:
    return np.round(value * _ONE) / _ONE


def _fx(point: np.ndarray) -> tuple[int, int]:
    return (round(float(point[0]) * _ONE), round(float(point[1]) * _ONE))


def _layout(width: int, height: int) -> tuple[float, float, float]:
    """Arena scale (px per unit) and the frame position of the arena's corner."""
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even (mp4 encoders need it): {width}x{height}")
    if width < height or height < 96:
        raise ValueError(f"frame {width}x{height}: need height >= 96 and width >= height")
    scale = height / ARENA
    return scale, (width - ARENA * scale) / 2, 0.0


def _paths(n_frames: int, n_animals: int) -> np.ndarray:
    """(F, N, 3) arena x, y and heading (radians) of each animal in each frame."""
    if not 2 <= n_animals <= len(_WAYPOINTS):
        raise ValueError(f"n_animals must be 2..{len(_WAYPOINTS)}, got {n_animals}")
    if not 60 <= n_frames <= 600:
        raise ValueError(f"n_frames must be 60..600, got {n_frames}")
    times = np.arange(n_frames) * (SCRIPT_FRAMES - 1) / (n_frames - 1)
    out = np.empty((n_frames, n_animals, 3))
    for n in range(n_animals):
        way = np.array(_WAYPOINTS[n], dtype=np.float64)
        values = np.column_stack([way[:, 1], way[:, 2], np.unwrap(np.radians(way[:, 3]))])
        out[:, n] = PchipInterpolator(way[:, 0], values, axis=0)(times)
    return out


def _pose(x: float, y: float, heading: float, scale: float, origin: tuple[float, float],
          sway: float) -> dict[str, np.ndarray]:
    """Construction points of one animal in pixels (keypoints on the 1/16 grid)."""
    s = scale * BODY_UNIT
    u = np.array([math.cos(heading), math.sin(heading)])
    left = np.array([u[1], -u[0]])
    centre = np.array([origin[0] + x * scale, origin[1] + y * scale])
    head = centre + 12 * s * u
    points = {
        "snout": centre + 20 * s * u,
        "leftear": centre + 10 * s * u + 6 * s * left,
        "rightear": centre + 10 * s * u - 6 * s * left,
        "centre": centre,
        "tailbase": centre - 16 * s * u,
    }
    pose = {name: _q(p) for name, p in points.items()}
    pose["head"] = _q(head)
    pose["u"] = u
    pose["tail"] = np.array([
        pose["tailbase"] - 3.5 * s * k * u + 2 * s * math.sin(sway + 0.9 * k) * left
        for k in range(5)
    ])
    return pose


def _draw(image: np.ndarray, pose: dict[str, np.ndarray], scale: float,
          solid: int | None = None) -> None:
    """Draw one animal in place; `solid` draws its silhouette in that value, without AA."""
    s = scale * BODY_UNIT
    aa = cv2.LINE_8 if solid is not None else cv2.LINE_AA

    def color(c: tuple[int, int, int]) -> tuple[int, ...] | int:
        return c if solid is None else solid

    angle = math.degrees(math.atan2(pose["u"][1], pose["u"][0]))
    tail = np.array([_fx(p) for p in pose["tail"]], dtype=np.int32)
    cv2.polylines(image, [tail], False, color(TAIL_COLOR), max(1, round(2 * s)), aa, SHIFT)
    body = (round(16 * s * _ONE), round(8 * s * _ONE))
    cv2.ellipse(image, _fx(pose["centre"]), body, angle, 0, 360, color(BODY_COLOR), -1, aa, SHIFT)
    head = (round(8 * s * _ONE), round(6 * s * _ONE))
    cv2.ellipse(image, _fx(pose["head"]), head, angle, 0, 360, color(HEAD_COLOR), -1, aa, SHIFT)
    for name in BODYPARTS:
        radius = round(_RADII[name] * s * _ONE)
        cv2.circle(image, _fx(pose[name]), radius, color(MULTI_PART_COLORS[name]), -1, aa, SHIFT)


def _poses(n_frames: int, n_animals: int, width: int, height: int, seed: int) -> list[list[dict]]:
    scale, ox, oy = _layout(width, height)
    paths = _paths(n_frames, n_animals)
    phases = np.random.default_rng([seed, 31337]).uniform(0, 2 * math.pi, n_animals)
    return [
        [_pose(*paths[f, n], scale, (ox, oy), 0.35 * f + phases[n]) for n in range(n_animals)]
        for f in range(n_frames)
    ]


def _run(flags: np.ndarray, at: int, what: str) -> tuple[int, int]:
    """The run of True frames around frame `at`: (start, stop exclusive)."""
    if not flags[at]:
        raise RuntimeError(f"the script's {what} does not happen at frame {at} at this size")
    start, stop = at, at + 1
    while start > 0 and flags[start - 1]:
        start -= 1
    while stop < len(flags) and flags[stop]:
        stop += 1
    return start, stop


def _truth(poses: list[list[dict]], width: int, height: int) -> MultiAnimalTruth:
    """Keypoints, visibility and the measured event ranges of the scripted poses."""
    n_frames, n_animals = len(poses), len(poses[0])
    scale = _layout(width, height)[0]
    keypoints = np.array([[[p[name] for name in BODYPARTS] for p in frame] for frame in poses])
    x, y = keypoints[..., 0], keypoints[..., 1]
    inside = (x >= -0.5) & (x < width - 0.5) & (y >= -0.5) & (y < height - 0.5)
    keypoints[~inside] = np.nan
    visible = inside.copy()
    overlap = np.zeros(n_frames, dtype=bool)
    contact = np.zeros(n_frames, dtype=bool)
    kernel = np.ones((5, 5), np.uint8)  # silhouettes within 2 px of each other touch
    for f, frame in enumerate(poses):
        masks = []
        for pose in frame:
            mask = np.zeros((height, width), np.uint8)
            _draw(mask, pose, scale, solid=1)
            masks.append(mask.astype(bool))
        overlap[f] = (masks[0] & masks[1]).any()
        contact[f] = (cv2.dilate(masks[0].astype(np.uint8), kernel).astype(bool) & masks[1]).any()
        for n in range(n_animals):
            above = np.logical_or.reduce(masks[n + 1 :]) if n + 1 < n_animals else None
            if above is None:
                continue
            cols = np.clip(np.round(np.nan_to_num(x[f, n])).astype(int), 0, width - 1)
            rows = np.clip(np.round(np.nan_to_num(y[f, n])).astype(int), 0, height - 1)
            visible[f, n] &= ~above[rows, cols]
    stretch = (n_frames - 1) / (SCRIPT_FRAMES - 1)
    cross = _run(overlap, round(_CROSS_AT * stretch), "crossing")
    touch = _run(contact, round(_TOUCH_AT * stretch), "touching")
    leave = _run(~inside[:, 1].all(axis=-1), round(_GONE_AT * stretch), "leaving")
    events = (
        Event("crossing", (0, 1), *cross),
        Event("touching", (0, 1), *touch),
        Event("leaving", (1,), *leave),
    )
    identities = tuple(f"animal_{n}" for n in range(n_animals))
    return MultiAnimalTruth(
        keypoints, visible, identities, events, width, height, BODYPARTS, SKELETON
    )


def simulate(
    *, n_animals: int = 3, n_frames: int = 120, width: int = 256, height: int = 256, seed: int = 0
) -> MultiAnimalTruth:
    """The clip's truth without writing a video (what `generate_video` draws)."""
    return _truth(_poses(n_frames, n_animals, width, height, seed), width, height)


def render_frame(
    index: int,
    *,
    n_animals: int = 3,
    n_frames: int = 120,
    width: int = 256,
    height: int = 256,
    seed: int = 0,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame `index` in memory: (image (H, W, 3) uint8 BGR, keypoints (N, K, 2), NaN outside)."""
    poses = _poses(n_frames, n_animals, width, height, seed)
    image = make_background(width, height, background, seed)
    scale = _layout(width, height)[0]
    for pose in poses[index]:
        _draw(image, pose, scale)
    return image, _truth(poses, width, height).keypoints[index]


def generate_video(
    path: str | Path,
    *,
    n_animals: int = 3,
    n_frames: int = 120,
    width: int = 256,
    height: int = 256,
    fps: float = 30.0,
    seed: int = 0,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
) -> SyntheticMultiVideo:
    """Write an mp4 (fourcc ``mp4v``) of the scripted animals; return it with its truth.

    The file is decoded back and must hold exactly `n_frames` frames.
    """
    poses = _poses(n_frames, n_animals, width, height, seed)
    truth = _truth(poses, width, height)
    scale = _layout(width, height)[0]
    base = make_background(width, height, background, seed)
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an mp4v video to {path}")
    try:
        for frame in poses:
            image = base.copy()
            for pose in frame:
                _draw(image, pose, scale)
            writer.write(image)
    finally:
        writer.release()
    decoded = count_decodable_frames(path)
    if decoded != n_frames:
        raise RuntimeError(f"{path} decodes to {decoded} frames, wrote {n_frames}")
    fields = {name: getattr(truth, name) for name in MultiAnimalTruth.__dataclass_fields__}
    return SyntheticMultiVideo(**fields, path=path, fps=float(fps))

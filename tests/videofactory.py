"""Videos for tests: good synthetic clips, multi-scene clips, and every kind of bad file.

Plain functions (no Django): each writes into a folder the test owns, e.g. ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from videos.synthetic import SyntheticVideo, generate_video

# Three very different looks: a mid-grey arena (most of the video), white, and black.
MAIN_SCENE = (115, 120, 112)
BRIGHT_SCENE = (235, 235, 235)
DARK_SCENE = (20, 20, 25)


def make_video(folder: Path, name: str = "clip.mp4", **kwargs: Any) -> SyntheticVideo:
    """A small synthetic mp4 (90 frames, 160x120, 30 fps unless kwargs for generate_video)."""
    return generate_video(Path(folder) / name, **kwargs)


def make_scene_video(folder: Path, name: str = "scenes.mp4", seed: int = 0) -> SyntheticVideo:
    """150 frames: 80% in the main scene, interrupted by two 15-frame scenes.

    Layout: main 0–59, bright 60–74, main 75–134, dark 135–149. ``scene_of_frame`` holds
    0 for the main scene and 1 / 2... per segment, so use `scene_kind` to name them.
    """
    scenes = [(60, MAIN_SCENE), (15, BRIGHT_SCENE), (60, MAIN_SCENE), (15, DARK_SCENE)]
    return generate_video(Path(folder) / name, scenes=scenes, seed=seed)


def scene_kind(video: SyntheticVideo) -> np.ndarray:
    """(frames,) 0 main, 1 bright, 2 dark for a `make_scene_video` clip."""
    return np.array([0, 1, 0, 2])[video.scene_of_frame]


def write_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def write_text(path: Path) -> Path:
    path.write_text("this is not a video\n" * 50)
    return path


def write_random_bytes(path: Path, size: int = 50_000, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def write_png_as_video(path: Path) -> Path:
    """A real PNG image saved under a video name (e.g. ``frame.mp4``)."""
    ok, png = cv2.imencode(".png", np.full((48, 64, 3), 127, np.uint8))
    assert ok
    path.write_bytes(png.tobytes())
    return path


def write_truncated(source: Path, path: Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of the bytes of `source`."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def write_overwritten(
    source: Path, path: Path, centre: float = 0.5, fraction: float = 0.2, seed: int = 0
) -> Path:
    """`source` with `fraction` of its bytes around `centre` replaced by random bytes."""
    data = bytearray(source.read_bytes())
    length = max(1, int(len(data) * fraction))
    start = max(0, int(len(data) * centre) - length // 2)
    data[start : start + length] = np.random.default_rng(seed).bytes(length)
    path.write_bytes(bytes(data))
    return path


def write_zero_frames(path: Path) -> Path:
    """What OpenCV leaves when a writer is opened and closed without frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    writer.release()
    if not path.exists():
        path.write_bytes(b"")
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame, read one by one with ``cap.read()`` from the start (the reference)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return frames
            frames.append(frame)
    finally:
        cap.release()

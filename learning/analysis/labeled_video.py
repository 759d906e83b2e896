"""Videos and single frames with the predicted points and the skeleton drawn on them.

Each body part has its own colour (the project's colours). Points whose likelihood is below
`pcutoff` are drawn hollow (``below="hollow"``) or left out (``below="hide"``); an edge is only
drawn when both of its ends are at or above the cutoff. The video is written to a temporary
name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from videos.sampling import iter_frames

Below = Literal["hollow", "hide"]
Color = tuple[int, int, int]
SHIFT = 4  # cv2 fixed-point bits: points are drawn at sub-pixel positions
FALLBACK_COLORS: tuple[Color, ...] = (
    (75, 25, 230), (75, 180, 60), (25, 225, 255), (216, 99, 67), (49, 130, 245),
    (180, 30, 145), (244, 212, 66), (230, 50, 240), (69, 239, 191), (212, 190, 250),
)


def hex_to_bgr(color: str) -> Color:
    """'#rrggbb' -> (b, g, r)."""
    value = color.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"not a #rrggbb colour: {color!r}")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def part_colors(n: int, colors: Sequence[str] | None = None) -> list[Color]:
    """BGR colours for n body parts: the given '#rrggbb' ones, else a fixed palette."""
    if colors is not None and len(colors) == n:
        return [hex_to_bgr(c) for c in colors]
    return [FALLBACK_COLORS[i % len(FALLBACK_COLORS)] for i in range(n)]


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * (1 << SHIFT)), round(y * (1 << SHIFT))


def draw_pose(
    frame: np.ndarray,
    pose: np.ndarray,
    colors: Sequence[Color],
    edges: Sequence[tuple[int, int]] = (),
    *,
    pcutoff: float = 0.6,
    below: Below = "hollow",
    radius: int | None = None,
) -> np.ndarray:
    """Draw one pose (K, 3) x, y, likelihood on a BGR frame (H, W, 3) in place; returns it."""
    radius = radius or max(2, round(min(frame.shape[:2]) / 80))
    finite = np.isfinite(pose[:, :2]).all(axis=1)
    confident = finite & (np.nan_to_num(pose[:, 2], nan=0.0) >= pcutoff)
    thickness = max(1, radius // 2)
    for a, b in edges:
        if confident[a] and confident[b]:
            cv2.line(frame, _pt(*pose[a, :2]), _pt(*pose[b, :2]), (255, 255, 255), thickness,
                     cv2.LINE_AA, SHIFT)
    for k in range(len(pose)):
        if not finite[k] or (not confident[k] and below == "hide"):
            continue
        fill = -1 if confident[k] else thickness
        cv2.circle(frame, _pt(*pose[k, :2]), radius << SHIFT, colors[k], fill, cv2.LINE_AA,
                   SHIFT)
    return frame


def render_video(
    video_path: str | Path,
    poses: np.ndarray,
    out_path: str | Path,
    colors: Sequence[Color],
    edges: Sequence[tuple[int, int]] = (),
    *,
    fps: float = 30.0,
    pcutoff: float = 0.6,
    below: Below = "hollow",
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write an mp4 (mp4v) of every frame of the video with its pose (poses (N, K, 3)) drawn.

    The output has exactly N frames; the video must hold at least N.
    """
    out_path = Path(out_path)
    partial = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    writer: cv2.VideoWriter | None = None
    written = 0
    try:
        for index, frame in iter_frames(video_path, range(len(poses))):
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {partial}")
            writer.write(draw_pose(frame, poses[index], colors, edges, pcutoff=pcutoff,
                                   below=below))
            written += 1
            if progress is not None and written % 100 == 0:
                progress(written, len(poses))
        if writer is not None:
            writer.release()
            writer = None
        if written != len(poses):
            raise RuntimeError(f"wrote {written} frames, expected {len(poses)}")
        os.replace(partial, out_path)
    finally:
        if writer is not None:
            writer.release()
        if partial.exists():
            partial.unlink()
    return out_path


def render_frame_png(
    video_path: str | Path,
    pose: np.ndarray,
    index: int,
    colors: Sequence[Color],
    edges: Sequence[tuple[int, int]] = (),
    *,
    pcutoff: float = 0.6,
    below: Below = "hollow",
    track_names: Sequence[str] | None = None,
) -> bytes:
    """PNG bytes of frame `index` of the video with `pose` (K, 3) drawn, or every animal of
    a multi-animal analysis (T, K, 3), each labeled with its track name (`track_names`)."""
    for _, frame in iter_frames(video_path, [index]):
        animals = pose if pose.ndim == 3 else pose[None]
        for t, animal in enumerate(animals):
            draw_pose(frame, animal, colors, edges, pcutoff=pcutoff, below=below)
            if pose.ndim == 3 and np.isfinite(animal[:, :2]).any():
                x, y = np.nanmin(animal[:, 0]), np.nanmin(animal[:, 1])
                name = track_names[t] if track_names and t < len(track_names) else f"#{t}"
                cv2.putText(frame, name, (int(x), max(10, int(y) - 6)),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        ok, png = cv2.imencode(".png", frame)
        if not ok:
            raise RuntimeError(f"cannot encode frame {index}")
        return png.tobytes()
    raise RuntimeError(f"no frame {index}")


# ---------------------------------------------------------------------------- Django glue


def skeleton_style(project) -> tuple[list[Color], list[tuple[int, int]]]:
    """(BGR colour per body part in order, edges as body-part index pairs) of a project."""
    parts = list(project.bodyparts.order_by("order"))
    index = {bp.pk: i for i, bp in enumerate(parts)}
    edges = [(index[e.source_id], index[e.target_id]) for e in project.edges.all()
             if e.source_id in index and e.target_id in index]
    return part_colors(len(parts), [bp.color for bp in parts]), edges


def render_for_video(video, poses: np.ndarray, out_path: Path, *, pcutoff: float = 0.6,
                     below: Below = "hollow") -> Path:
    """Labeled video of a Video row with poses (N, K, 3), in the project's colours."""
    from videos.files import local_video_path

    colors, edges = skeleton_style(video.project)
    with local_video_path(video) as path:
        return render_video(path, poses, out_path, colors, edges, fps=video.fps or 30.0,
                            pcutoff=pcutoff, below=below)


def frame_png_for_video(video, poses: np.ndarray, index: int, *, pcutoff: float = 0.6,
                        below: Below = "hollow",
                        track_names: Sequence[str] | None = None) -> bytes:
    """PNG of frame `index` of a Video row with its pose drawn (poses (N, K, 3))."""
    from videos.files import local_video_path

    if not 0 <= index < len(poses):
        raise IndexError(f"frame {index} is outside 0..{len(poses) - 1}")
    colors, edges = skeleton_style(video.project)
    with local_video_path(video) as path:
        return render_frame_png(path, poses[index], index, colors, edges, pcutoff=pcutoff,
                                below=below, track_names=track_names)

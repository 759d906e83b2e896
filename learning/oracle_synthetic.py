"""A densely labeled, redundant synthetic DeepLabCut project for the oracle replay.

The shared DeepLabCut examples are small, curated pools (frames already picked across a whole
session), so "random" over them is already a diverse sample. A lab's real pool is raw video:
the animal rests most of the time, moves briefly, and the light changes now and then. This
writes every frame of such a video, with exact labels from `videos.synthetic`, as a
DeepLabCut project that `replay_oracle` reads like any other:

- the animal moves for `move` frames, then rests for `rest` frames (the pose stays; only
  sensor noise changes the pixels), cycle after cycle;
- the arena is the main grey scene except for two short segments of `rare` frames each,
  one bright and one dark (a light change), so a few situations are rare in the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from learning.formats.dlc import DLCConfig, write_dlc_project
from learning.formats.pose import LabeledFrames
from videos.synthetic import BODYPARTS, SKELETON, make_background, render_frame

MAIN_SCENE = (115, 120, 112)
RARE_SCENES = ((235, 235, 235), (20, 20, 25))
VIDEO = "restingmouse"


@dataclass(frozen=True)
class RedundantVideo:
    """Per frame: the synthetic pose index drawn and the scene (0 main, 1 bright, 2 dark)."""

    pose_index: np.ndarray
    scene: np.ndarray


def plan_video(n_frames: int, move: int = 12, rest: int = 36, rare: int = 12) -> RedundantVideo:
    """Which pose and which scene each frame shows (see the module docstring)."""
    if min(n_frames, move, rest) < 1 or rare < 0 or n_frames < 4 * rare:
        raise ValueError("n_frames, move and rest must be >= 1, rare >= 0 and n_frames >= 4 rare")
    pose_index = np.empty(n_frames, dtype=np.int64)
    current = 0
    for frame in range(n_frames):
        if frame % (move + rest) < move:
            current += 3  # a visible step along the path per moving frame
        pose_index[frame] = current
    scene = np.zeros(n_frames, dtype=np.int64)
    for k, start in enumerate((n_frames // 3, 2 * n_frames // 3)):
        scene[start:start + rare] = k + 1
    return RedundantVideo(pose_index, scene)


def write_redundant_project(folder: str | Path, *, n_frames: int = 360, width: int = 160,
                            height: int = 120, seed: int = 0, noise: float = 3.0) -> Path:
    """Write the project (config.yaml, labeled-data/restingmouse/*.png + CollectedData);
    returns the config path."""
    plan = plan_video(n_frames)
    backgrounds = [make_background(width, height, color, seed, k)
                   for k, color in enumerate((MAIN_SCENE, *RARE_SCENES))]
    rng = np.random.default_rng(seed)
    paths: list[str] = []
    keypoints = np.empty((n_frames, 1, len(BODYPARTS), 2))
    images: dict[str, np.ndarray] = {}
    for frame in range(n_frames):
        image, keypoints[frame] = render_frame(int(plan.pose_index[frame]), width=width,
                                               height=height, seed=seed,
                                               background=backgrounds[plan.scene[frame]])
        noisy = image.astype(np.float32) + rng.normal(0.0, noise, image.shape)
        rel = f"labeled-data/{VIDEO}/img{frame:05d}.png"
        images[rel] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        paths.append(rel)

    def write(rel: str, destination: Path) -> None:
        if not cv2.imwrite(str(destination), images[rel]):
            raise RuntimeError(f"cannot write {destination}")

    frames = LabeledFrames(image_paths=paths, bodyparts=list(BODYPARTS), keypoints=keypoints,
                           skeleton=list(SKELETON), scorer="oracle",
                           image_sizes=[(width, height)] * n_frames)
    config = DLCConfig(task="restingmouse", scorer="oracle", bodyparts=tuple(BODYPARTS),
                       skeleton=tuple(SKELETON))
    return write_dlc_project(folder, config, frames, images=write)

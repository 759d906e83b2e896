"""Fixtures for the geometry tests: a synthetic rig, its board videos, and mouse-4cam."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from learning.geometry import synthetic
from learning.geometry.board import Board
from learning.geometry.camera import Camera

MOUSE_CAMERAS = ["back", "mid", "side", "top"]


@pytest.fixture(scope="session")
def rig() -> list[Camera]:
    """Four cameras around a mouse-sized scene, with lens distortion."""
    return synthetic.ring_rig(4)


@pytest.fixture(scope="session")
def animal() -> np.ndarray:
    """(150, 10, 3) keypoints of the walking synthetic animal (mm)."""
    return synthetic.walking_animal(150)


@pytest.fixture(scope="session")
def small_board() -> Board:
    return Board("charuco", (7, 9), 30.0, 22.0, 4, 50)


@pytest.fixture(scope="session")
def board_rig() -> list[Camera]:
    """Three 640 x 512 cameras that film `small_board`."""
    return synthetic.ring_rig(3, radius=300, height=400, size=(640, 512), focal=600,
                              dist=(-0.15, 0.05, 0, 0, 0), seed=1)


@pytest.fixture(scope="session")
def board_videos(tmp_path_factory, small_board, board_rig) -> dict[str, Path]:
    """One lossless .avi per camera of `board_rig` filming the board in 16 poses."""
    poses = synthetic.random_board_poses(small_board, 16, seed=2, max_tilt_deg=40)
    return synthetic.render_board_videos(small_board, board_rig, poses,
                                         tmp_path_factory.mktemp("board-videos"))


@pytest.fixture(scope="session")
def mouse4cam() -> Path:
    """$POSELOOP_SHARED_DATA/mouse-4cam; skips when the variable is unset or the data absent."""
    root = os.environ.get("POSELOOP_SHARED_DATA")
    if not root or not (Path(root) / "mouse-4cam" / "board.toml").is_file():
        pytest.skip("mouse-4cam not found (set POSELOOP_SHARED_DATA)")
    return Path(root) / "mouse-4cam"


def mouse_videos(root: Path) -> dict[str, Path]:
    """The board recording of every mouse-4cam camera (side's is a .MOV)."""
    return {c: next((root / c).glob(f"minimal_session-{c}-calibration.*"))
            for c in MOUSE_CAMERAS}


def mouse_poses(root: Path) -> dict[str, Path]:
    """The proofread SLEAP poses of every mouse-4cam camera."""
    return {c: root / c / f"minimal_{c}_proofread.slp" for c in MOUSE_CAMERAS}

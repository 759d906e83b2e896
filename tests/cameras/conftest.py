"""A synthetic three-camera rig, its calibration.toml, and per-camera pose tables of a
walking animal with known 3D keypoints (exact ground truth for triangulation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cameras import rigs, sessions
from learning.formats.pose_table import write_pose_table
from learning.geometry import synthetic
from learning.geometry.calibration_toml import save_calibration_toml
from tests.videofactory import make_video
from videos.ingest import add_video

N_FRAMES = 30
BOARD_TOML = """board_type = "charuco"
board_size = [7, 9]
board_square_side_length = 30.0
board_marker_length = 22.0
board_marker_bits = 4
board_marker_dict_number = 50
"""


@pytest.fixture(scope="session")
def rig_cameras():
    return synthetic.ring_rig(3, seed=3)


@pytest.fixture(scope="session")
def truth() -> np.ndarray:
    return synthetic.walking_animal(N_FRAMES, seed=1)


@pytest.fixture
def toml_file(tmp_path, rig_cameras) -> Path:
    return save_calibration_toml(rig_cameras, tmp_path / "calibration.toml")


@pytest.fixture
def pose_files(tmp_path, rig_cameras, truth) -> dict[str, Path]:
    """One DeepLabCut pose table (.h5) per camera: the truth projected, likelihood 1."""
    pts = synthetic.render_points(rig_cameras, truth)
    files = {}
    for cam, p in zip(rig_cameras, pts, strict=True):
        poses = np.concatenate([p, np.ones((*p.shape[:2], 1))], axis=-1)
        h5, _ = write_pose_table(tmp_path / f"poses-{cam.name}", "truth", synthetic.BODYPARTS,
                                 poses)
        files[cam.name] = h5
    return files


@pytest.fixture
def rig(project, rig_cameras, users):
    return rigs.create_rig(project, "ring", [c.name for c in rig_cameras], BOARD_TOML,
                           user=users["pi"])


@pytest.fixture
def calibrated(rig, toml_file, users):
    upload = SimpleUploadedFile("calibration.toml", toml_file.read_bytes())
    return rigs.import_calibration(rig, upload, users["pi"])


@pytest.fixture
def session_videos(project, tmp_path, rig_cameras):
    return {c.name: add_video(project, make_video(tmp_path, f"{c.name}.mp4", n_frames=N_FRAMES,
                                                  seed=i).path, name=f"{c.name}.mp4",
                              register=True)
            for i, c in enumerate(rig_cameras)}


@pytest.fixture
def session(project, rig, session_videos, users):
    return sessions.create_session(project, rig, "day1",
                                   {c: v.pk for c, v in session_videos.items()},
                                   user=users["pi"])


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())

"""SLEAP .slp labels through sleap-io."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from learning.formats.dlc import read_dlc_project
from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames

sio = pytest.importorskip("sleap_io")
from learning.formats.sleap import read_slp, write_slp  # noqa: E402


def test_round_trip_relative_paths(small_frames: LabeledFrames, tmp_path: Path) -> None:
    back = read_slp(write_slp(tmp_path / "labels.slp", small_frames))
    assert back.image_paths == small_frames.image_paths
    assert back.bodyparts == small_frames.bodyparts
    assert back.skeleton == small_frames.skeleton
    np.testing.assert_array_equal(back.keypoints, small_frames.keypoints)


def test_real_reaching_opens_in_sleap_io(reaching: Path, tmp_path: Path) -> None:
    frames = read_dlc_project(reaching).frames
    path = write_slp(tmp_path / "reaching.slp", frames, image_root=reaching)
    labels = sio.load_slp(str(path))
    assert len(labels.labeled_frames) == 55
    assert labels.videos[0].filename[0] == str(reaching / frames.image_paths[0])
    back = read_slp(path, image_root=reaching)
    assert back.image_paths == frames.image_paths
    np.testing.assert_array_equal(back.keypoints, frames.keypoints)


def test_several_individuals(small_frames: LabeledFrames, tmp_path: Path) -> None:
    kp = np.concatenate([small_frames.keypoints, small_frames.keypoints + 1], axis=1)
    two = LabeledFrames(small_frames.image_paths, small_frames.bodyparts, kp)
    back = read_slp(write_slp(tmp_path / "two.slp", two))
    np.testing.assert_array_equal(back.keypoints, kp)


def test_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.slp"
    path.write_bytes(b"nope")
    with pytest.raises(FormatError, match="not a readable SLEAP file"):
        read_slp(path)

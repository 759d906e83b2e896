"""Fixtures for the format adapters: the shared DeepLabCut data and small synthetic labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from learning.formats.pose import LabeledFrames


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real DeepLabCut example data (POSELOOP_SHARED_DATA, default /work/shared/data)."""
    root = Path(os.environ.get("POSELOOP_SHARED_DATA", "/work/shared/data"))
    if not (root / "openfield").is_dir() or not (root / "reaching").is_dir():
        pytest.skip(f"shared DeepLabCut data not found at {root} (set POSELOOP_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def openfield(shared_data: Path) -> Path:
    return shared_data / "openfield"


@pytest.fixture(scope="session")
def reaching(shared_data: Path) -> Path:
    return shared_data / "reaching"


@pytest.fixture
def small_frames() -> LabeledFrames:
    """4 frames in two video folders, 3 body parts, some points missing."""
    rng = np.random.default_rng(7)
    kp = rng.uniform(0, 500, size=(4, 1, 3, 2))
    kp[1, 0, 2] = np.nan
    kp[3, 0, 0] = np.nan
    return LabeledFrames(
        image_paths=[
            "labeled-data/vidA/img000.png",
            "labeled-data/vidA/img007.png",
            "labeled-data/vidB/img001.png",
            "labeled-data/vidB/img002.png",
        ],
        bodyparts=["nose", "ear", "tail"],
        keypoints=kp,
        skeleton=[("nose", "ear")],
        scorer="tester",
        image_sizes=[(640, 480), (640, 480), (320, 240), (320, 240)],
    )


@pytest.fixture(scope="session")
def flies_pair() -> Path:
    """The flies-pair SLEAP predictions (POSELOOP_SHARED_DATA/flies-pair); skips without it."""
    root = Path(os.environ.get("POSELOOP_SHARED_DATA", "/work/shared/data")) / "flies-pair"
    if not (root / "centered_pair_predictions.slp").is_file():
        pytest.skip(f"flies-pair data not found at {root} (set POSELOOP_SHARED_DATA)")
    return root


@pytest.fixture
def herd_frames() -> LabeledFrames:
    """5 images of 3 named animals, 3 body parts: "bob" is absent from images 0 and 3,
    "cleo" lacks a point on image 2, and no image has the same points for two animals."""
    rng = np.random.default_rng(11)
    kp = rng.uniform(0, 300, size=(5, 3, 3, 2))
    kp[[0, 3], 1] = np.nan
    kp[2, 2, 0] = np.nan
    return LabeledFrames(
        image_paths=[f"labeled-data/cage/img{i:03d}.png" for i in range(5)],
        bodyparts=["nose", "ear", "tail"],
        keypoints=kp,
        skeleton=[("nose", "ear"), ("ear", "tail")],
        scorer="tester",
        image_sizes=[(320, 240)] * 5,
        individuals=["ada", "bob", "cleo"],
    )

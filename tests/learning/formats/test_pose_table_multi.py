"""Multi-animal pose tables (scorer / individuals / bodyparts / coords) and movement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from learning.formats.errors import FormatError
from learning.formats.pose_table import (
    apply_pcutoff,
    median_filter,
    read_pose_table,
    write_pose_table,
)

SCORER = "PoseLoop_v3"
PARTS = ["head", "thorax", "abdomen"]
TRACKS = ["3", "1", "12"]  # track names as SLEAP gives them: neither sorted nor numbers


@pytest.fixture
def poses() -> np.ndarray:
    """(20 frames, 3 tracks, 3 keypoints, x/y/likelihood); track "1" lost on frames 4-6,
    one point of track "12" lost on frame 9."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 384, size=(20, 3, 3, 2))
    likelihood = rng.uniform(0, 1, size=(20, 3, 3, 1))
    out = np.concatenate([xy, likelihood], axis=-1)
    out[4:7, 1] = np.nan
    out[9, 2, 0, :2] = np.nan
    return out


def _as_stored(poses: np.ndarray) -> np.ndarray:
    return poses.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("which", [0, 1])
def test_round_trip(poses: np.ndarray, tmp_path: Path, which: int) -> None:
    paths = write_pose_table(tmp_path / "flies", SCORER, PARTS, poses, individuals=TRACKS)
    table = read_pose_table(paths[which])
    assert table.individuals == TRACKS and table.multi_animal
    assert table.bodyparts == PARTS and table.scorer == SCORER
    np.testing.assert_array_equal(table.poses, _as_stored(poses))
    assert table.keypoints.shape == (20, 3, 3, 2)
    np.testing.assert_array_equal(table.likelihood, _as_stored(poses)[..., 2])


def test_layout_is_deeplabcuts_multi_animal_one(poses: np.ndarray, tmp_path: Path) -> None:
    h5, csv = write_pose_table(tmp_path / "flies", SCORER, PARTS, poses, individuals=TRACKS)
    df = pd.read_hdf(h5, "df_with_missing")
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.columns[:3].tolist() == [(SCORER, "3", "head", c) for c in ("x", "y", "likelihood")]
    assert set(df.dtypes) == {np.dtype(np.float32)}
    assert df.index.tolist() == list(range(20))
    with pd.HDFStore(h5, "r") as store:
        assert store.get_storer("df_with_missing").format_type == "table"
    header = csv.read_text().splitlines()[:4]
    assert [line.split(",")[0] for line in header] == ["scorer", "individuals", "bodyparts",
                                                        "coords"]  # fmt: skip


@pytest.mark.parametrize("which", [0, 1])
def test_movement_names_individuals_after_the_tracks(
    poses: np.ndarray, tmp_path: Path, which: int
) -> None:
    load_poses = pytest.importorskip("movement.io.load_poses")
    paths = write_pose_table(tmp_path / "flies", SCORER, PARTS, poses, individuals=TRACKS)
    ds = load_poses.from_dlc_file(paths[which], fps=15)
    assert [str(i) for i in ds.individuals.values] == TRACKS
    assert list(ds.keypoints.values) == PARTS
    # movement: (time, space, keypoints, individuals); ours: (frames, individuals, keypoints, 3)
    position = ds.position.values.transpose(0, 3, 2, 1)
    np.testing.assert_allclose(position, _as_stored(poses)[..., :2], rtol=1e-6)
    confidence = ds.confidence.values.transpose(0, 2, 1)
    np.testing.assert_allclose(confidence, _as_stored(poses)[..., 2], rtol=1e-6)


@pytest.mark.parametrize("individuals", [None, TRACKS])
def test_csv_whose_first_frame_is_empty_reads(
    poses: np.ndarray, tmp_path: Path, individuals: list[str] | None
) -> None:
    # pandas' index_col=0 takes an all-empty first data row for the index name.
    data = poses if individuals else poses[:, 0]
    data = data.copy()
    data[0] = np.nan
    _, csv = write_pose_table(tmp_path / "lost", SCORER, PARTS, data, individuals=individuals)
    table = read_pose_table(csv)
    assert table.poses.shape == data.shape
    assert np.isnan(table.poses[0]).all()
    np.testing.assert_array_equal(table.poses[1:], _as_stored(data)[1:])


def test_filters_work_per_individual(poses: np.ndarray) -> None:
    cut = apply_pcutoff(poses, 0.5)
    low = poses[..., 2] < 0.5
    assert np.isnan(cut[..., 0][low]).all()
    np.testing.assert_array_equal(cut[..., :2][~low], poses[..., :2][~low])
    spiky = np.repeat(poses[:1], 9, axis=0)
    spiky[4, 2, 1, :2] += 100.0
    smooth = median_filter(spiky, 3)
    np.testing.assert_array_equal(smooth[..., :2], np.repeat(poses[:1], 9, axis=0)[..., :2])


@pytest.mark.parametrize(
    ("shape", "individuals", "message"),
    [((20, 3, 3), TRACKS, r"\(frames, 3, 3, 3\)"), ((20, 2, 3, 3), TRACKS, r"\(frames, 3, 3, 3\)"),
     ((20, 3, 3, 3), ["a", "a", "b"], "duplicate individuals")],
)  # fmt: skip
def test_bad_multi_animal_poses(
    tmp_path: Path, shape: tuple[int, ...], individuals: list[str], message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        write_pose_table(tmp_path / "bad", SCORER, PARTS, np.zeros(shape), individuals)


def test_unique_bodyparts_are_refused(poses: np.ndarray, tmp_path: Path) -> None:
    h5, _ = write_pose_table(tmp_path / "ma", SCORER, PARTS, poses, ["a", "b", "single"])
    with pytest.raises(FormatError, match="unique body parts"):
        read_pose_table(h5)

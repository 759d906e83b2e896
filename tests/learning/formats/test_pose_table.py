"""DeepLabCut-style pose tables, plain CSV exports, filters, and movement compatibility."""

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
    write_plain_table,
    write_pose_table,
)

SCORER = "DLC_Resnet50_openfieldOct30shuffle1_snapshot_11"
PARTS = ["snout", "leftear", "rightear", "tailbase"]


@pytest.fixture
def poses() -> np.ndarray:
    """(30 frames, 4 keypoints, x/y/likelihood) with one lost point."""
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 640, size=(30, 4, 2))
    likelihood = rng.uniform(0, 1, size=(30, 4, 1))
    out = np.concatenate([xy, likelihood], axis=-1)
    out[5, 2, :2] = np.nan
    return out


def _as_stored(poses: np.ndarray) -> np.ndarray:
    return poses.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("which", [0, 1])
def test_round_trip(poses: np.ndarray, tmp_path: Path, which: int) -> None:
    paths = write_pose_table(tmp_path / f"m3v1mp4{SCORER}", SCORER, PARTS, poses)
    table = read_pose_table(paths[which])
    assert table.scorer == SCORER
    assert table.bodyparts == PARTS
    np.testing.assert_array_equal(table.poses, _as_stored(poses))
    assert table.keypoints.shape == (30, 1, 4, 2)
    assert table.likelihood.shape == (30, 1, 4)


def test_layout_follows_deeplabcut(poses: np.ndarray, tmp_path: Path) -> None:
    h5, csv = write_pose_table(tmp_path / "video", SCORER, PARTS, poses)
    assert (h5.name, csv.name) == ("video.h5", "video.csv")
    df = pd.read_hdf(h5, "df_with_missing")
    assert df.columns.names == ["scorer", "bodyparts", "coords"]
    assert df.columns[:3].tolist() == [(SCORER, "snout", c) for c in ("x", "y", "likelihood")]
    assert set(df.dtypes) == {np.dtype(np.float32)}
    assert df.index.tolist() == list(range(30))
    with pd.HDFStore(h5, "r") as store:
        assert store.get_storer("df_with_missing").format_type == "table"
    header = csv.read_text().splitlines()[:3]
    assert [line.split(",")[0] for line in header] == ["scorer", "bodyparts", "coords"]


def test_movement_loads_written_table(poses: np.ndarray, tmp_path: Path) -> None:
    load_poses = pytest.importorskip("movement.io.load_poses")
    h5, csv = write_pose_table(tmp_path / f"m3v1mp4{SCORER}", SCORER, PARTS, poses)
    for path in (h5, csv):
        ds = load_poses.from_dlc_file(path, fps=30)
        assert ds.position.shape == (30, 2, 4, 1)  # time, space, keypoints, individuals
        assert list(ds.keypoints.values) == PARTS
        assert ds.attrs["fps"] == 30
        position = ds.position.values.transpose(0, 2, 1, 3)[..., 0]
        np.testing.assert_allclose(position, _as_stored(poses)[..., :2], rtol=1e-6)
        np.testing.assert_allclose(ds.confidence.values[..., 0], _as_stored(poses)[..., 2])


def test_movement_loads_a_filtered_table_whose_first_frame_is_lost(
    poses: np.ndarray, tmp_path: Path
) -> None:
    # The analysis's "_filtered" table: low-likelihood points are NaN, here all of frame 0.
    load_poses = pytest.importorskip("movement.io.load_poses")
    poses = poses.copy()
    poses[0, :, 2] = 0.01
    filtered = apply_pcutoff(poses, 0.05)
    _, csv = write_pose_table(tmp_path / f"m3v1mp4{SCORER}_filtered", SCORER, PARTS, filtered)
    ds = load_poses.from_dlc_file(csv)
    assert ds.position.shape == (30, 2, 4, 1)
    position = ds.position.values.transpose(0, 2, 1, 3)[..., 0]
    np.testing.assert_allclose(position, _as_stored(filtered)[..., :2], rtol=1e-6)
    assert np.isnan(position[0]).all()


def test_apply_pcutoff(poses: np.ndarray) -> None:
    out = apply_pcutoff(poses, 0.5)
    low = poses[..., 2] < 0.5
    assert np.isnan(out[low][:, :2]).all()
    np.testing.assert_array_equal(out[~low], poses[~low])
    np.testing.assert_array_equal(out[..., 2], poses[..., 2])


def test_median_filter_removes_a_spike_and_skips_nan() -> None:
    poses = np.zeros((7, 1, 3))
    poses[:, 0, 0] = [1, 1, 1, 100, 1, 1, 1]
    poses[2, 0, 1] = np.nan
    out = median_filter(poses, 3)
    assert out[3, 0, 0] == 1
    assert not np.isnan(out[..., :2]).any()
    with pytest.raises(ValueError, match="odd"):
        median_filter(poses, 4)


def test_plain_csv_wide_and_long(poses: np.ndarray, tmp_path: Path) -> None:
    wide = pd.read_csv(write_plain_table(tmp_path / "w.csv", PARTS, poses))
    assert wide.columns[:4].tolist() == ["frame", "snout_x", "snout_y", "snout_likelihood"]
    assert len(wide) == 30
    long = pd.read_csv(write_plain_table(tmp_path / "l.csv", PARTS, poses, layout="long"))
    assert long.columns.tolist() == ["frame", "bodypart", "x", "y", "likelihood"]
    assert len(long) == 30 * 4
    row = long[(long.frame == 7) & (long.bodypart == "tailbase")].iloc[0]
    assert row.x == pytest.approx(poses[7, 3, 0])


def test_plain_parquet_is_tidy_and_keeps_nan(poses: np.ndarray, tmp_path: Path) -> None:
    poses = poses.copy()
    poses[3, 1, :2] = np.nan
    table = pd.read_parquet(write_plain_table(tmp_path / "p.parquet", PARTS, poses))
    assert table.columns.tolist() == ["frame", "bodypart", "x", "y", "likelihood"]
    assert len(table) == 30 * 4
    hidden = table[(table.frame == 3) & (table.bodypart == PARTS[1])].iloc[0]
    assert np.isnan(hidden.x) and np.isnan(hidden.y)
    row = table[(table.frame == 7) & (table.bodypart == "tailbase")].iloc[0]
    assert (row.x, row.y) == pytest.approx(tuple(poses[7, 3, :2]))
    with pytest.raises(ValueError, match="csv or .parquet"):
        write_plain_table(tmp_path / "p.xlsx", PARTS, poses)


@pytest.mark.parametrize(("shape", "message"), [((5, 4, 2), "shaped"), ((5, 3, 3), "shaped")])
def test_bad_pose_shape(tmp_path: Path, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        write_pose_table(tmp_path / "x", SCORER, PARTS, np.zeros(shape))


def test_likelihood_out_of_range(poses: np.ndarray, tmp_path: Path) -> None:
    poses[0, 0, 2] = 1.5
    with pytest.raises(FormatError, match="likelihood"):
        write_pose_table(tmp_path / "x", SCORER, PARTS, poses)


def test_labels_file_is_not_a_pose_table(reaching: Path) -> None:
    path = reaching / "labeled-data/reachingvideo1/CollectedData_Mackenzie.h5"
    with pytest.raises(FormatError, match="x, y, likelihood"):
        read_pose_table(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("scorer,S,S,S\ncoords,x,y,likelihood\n0,1,2,0.5\n", "header rows"),
        (
            "scorer,S,S,S\nbodyparts,a,a,a\ncoords,x,y,likelihood\n0,1,2,0.5\n1,1\n",
            "line 5 has 2 fields",
        ),
        ("scorer,S,S,S\nbodyparts,a,a,a\ncoords,x,y,likelihood\n3,1,2,0.5\n", "0..N-1"),
        (
            "scorer,S,S,S\nbodyparts,a,a,a\ncoords,x,y,likelihood\n0,1,zz,0.5\n",
            "non-numeric",
        ),
    ],
)
def test_malformed_pose_csv(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "video.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match=message):
        read_pose_table(path)

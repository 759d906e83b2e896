import numpy as np
import pandas as pd
import pytest
from movement.io import load_poses

from learning.formats.errors import FormatError
from learning.formats.pose_table3d import (
    read_dlc3d,
    write_anipose_csv,
    write_dlc3d,
    write_parquet3d,
)

PARTS = ["nose", "neck", "tail"]


def _points(n: int = 6) -> np.ndarray:
    pts = np.random.default_rng(0).normal(0, 50, (n, len(PARTS), 3))
    pts[2, 1] = np.nan
    return pts


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_dlc3d_tables_load_in_movement_as_3d_positions(tmp_path, suffix) -> None:
    pts = _points()
    h5, csv = write_dlc3d(tmp_path / "session3d", "PoseLoop3D", PARTS, pts)
    ds = load_poses.from_dlc_file(h5 if suffix == ".h5" else csv)
    assert list(ds.coords["space"].values) == ["x", "y", "z"]
    assert list(ds.coords["keypoints"].values) == PARTS
    position = ds.position.sel(individuals=ds.individuals[0]).transpose("time", "keypoints",
                                                                        "space").values
    assert np.allclose(position, pts, equal_nan=True)
    parts, back = read_dlc3d(h5 if suffix == ".h5" else csv)
    assert parts == PARTS and np.allclose(back, pts, equal_nan=True)


def test_anipose_csv_loads_in_movement(tmp_path) -> None:
    pts = _points()
    error, ncams, score = np.full((6, 3), 1.5), np.full((6, 3), 3), np.full((6, 3), 0.9)
    path = write_anipose_csv(tmp_path / "session3d_anipose.csv", PARTS, pts, error, ncams, score)
    ds = load_poses.from_anipose_file(path)
    order = [list(ds.coords["keypoints"].values).index(p) for p in PARTS]  # movement sorts
    position = ds.position.isel(individuals=0).transpose("time", "keypoints", "space").values
    assert np.allclose(position[:, order], pts, equal_nan=True)
    assert np.allclose(ds.confidence.isel(individuals=0).values, 0.9)


def test_parquet_is_long(tmp_path) -> None:
    pts = _points()
    path = write_parquet3d(tmp_path / "p.parquet", PARTS, pts, np.zeros((6, 3)),
                           np.full((6, 3), 2), np.ones((6, 3)))
    df = pd.read_parquet(path)
    assert list(df.columns) == ["frame", "bodypart", "x", "y", "z", "error", "ncams", "score"]
    assert len(df) == 18 and df.loc[4, "bodypart"] == "neck" and df.loc[4, "frame"] == 1
    assert np.allclose(df[["x", "y", "z"]].to_numpy(), pts.reshape(-1, 3), equal_nan=True)


def test_wrong_shapes_are_refused(tmp_path) -> None:
    with pytest.raises(FormatError, match="3D poses must be shaped"):
        write_dlc3d(tmp_path / "x", "s", PARTS, np.zeros((4, 2, 3)))

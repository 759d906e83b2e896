"""3D pose tables: DeepLabCut-3D H5/CSV, anipose-style CSV and long Parquet.

- DeepLabCut 3D (``<stem>.h5`` key ``df_with_missing`` + ``<stem>.csv`` with 3 header rows):
  columns scorer / bodyparts / coords with coords ``x, y, z``, float64, index 0..N-1.
  ``movement.io.load_poses.from_dlc_file`` reads it as 3D positions (no confidence).
- anipose CSV (``write_anipose_csv``): one row per frame, ``<part>_x, _y, _z, _error,
  _ncams, _score`` plus ``fnum``, ``center_0..2``, ``M_00..M_22`` (identity: the table is in
  the calibration's world frame) - the layout anipose writes and
  ``movement.io.load_poses.from_anipose_file`` reads (error = mean reprojection error in px,
  ncams = views used, score = mean likelihood of those views).
- Parquet (``write_parquet3d``): long, one row per frame and body part: frame, bodypart, x,
  y, z, error, ncams, score.

Units are the calibration's (the board's square side unit, mm for anipose boards).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .collected_data import COLUMN_NAMES, HDF_KEY, read_hdf_frame
from .errors import FormatError, existing_file
from .pose import check_names

COORDS_3D = ["x", "y", "z"]


def _check(bodyparts: Sequence[str], points3d: np.ndarray) -> np.ndarray:
    check_names(bodyparts, "body parts")
    pts = np.asarray(points3d, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (len(bodyparts), 3):
        raise FormatError(f"3D poses must be shaped (frames, {len(bodyparts)}, 3), "
                          f"got {pts.shape}")
    return pts


def frame3d(scorer: str, bodyparts: Sequence[str], points3d: np.ndarray) -> pd.DataFrame:
    """The DeepLabCut-3D DataFrame: columns scorer / bodyparts / coords (x, y, z)."""
    pts = _check(bodyparts, points3d)
    columns = pd.MultiIndex.from_product([[scorer], list(bodyparts), COORDS_3D],
                                         names=COLUMN_NAMES)
    return pd.DataFrame(pts.reshape(len(pts), -1), columns=columns,
                        index=pd.Index(np.arange(len(pts), dtype=np.int64)))


def write_dlc3d(path_stem: str | Path, scorer: str, bodyparts: Sequence[str],
                points3d: np.ndarray) -> tuple[Path, Path]:
    """Write ``<stem>.h5`` and ``<stem>.csv`` (DeepLabCut 3D); returns both paths."""
    df = frame3d(scorer, bodyparts, points3d)
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    h5_path, csv_path = stem.with_name(stem.name + ".h5"), stem.with_name(stem.name + ".csv")
    df.to_hdf(h5_path, key=HDF_KEY, format="table", mode="w")
    df.to_csv(csv_path)
    return h5_path, csv_path


def read_dlc3d(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(bodyparts, points3d (F, K, 3)) from a DeepLabCut-3D .h5 or .csv."""
    path = existing_file(path, allow_empty=True)
    if path.suffix.lower() == ".csv":
        df = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    else:
        df = read_hdf_frame(path)
    if df.columns.nlevels != 3 or list(df.columns.get_level_values(2).unique()) != COORDS_3D:
        raise FormatError("expected columns scorer / bodyparts / coords with x, y, z", path)
    bodyparts = [str(b) for b in dict.fromkeys(df.columns.get_level_values(1))]
    values = df.to_numpy(dtype=np.float64)
    return bodyparts, values.reshape(len(df), len(bodyparts), 3)


def anipose_frame(bodyparts: Sequence[str], points3d: np.ndarray, error: np.ndarray,
                  ncams: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """anipose's 3D table: per part _x _y _z _error _ncams _score; fnum, center, M."""
    pts = _check(bodyparts, points3d)
    n = len(pts)
    cols: dict[str, np.ndarray] = {}
    for k, part in enumerate(bodyparts):
        for i, c in enumerate(COORDS_3D):
            cols[f"{part}_{c}"] = pts[:, k, i]
        cols[f"{part}_error"] = np.asarray(error, dtype=np.float64)[:, k]
        cols[f"{part}_ncams"] = np.asarray(ncams)[:, k].astype(np.int64)
        cols[f"{part}_score"] = np.asarray(score, dtype=np.float64)[:, k]
    cols["fnum"] = np.arange(n)
    for i in range(3):
        cols[f"center_{i}"] = np.zeros(n)
    for i in range(3):
        for j in range(3):
            cols[f"M_{i}{j}"] = np.full(n, float(i == j))
    return pd.DataFrame(cols)


def write_anipose_csv(path: str | Path, bodyparts: Sequence[str], points3d: np.ndarray,
                      error: np.ndarray, ncams: np.ndarray, score: np.ndarray) -> Path:
    """Write the anipose-style CSV (see `anipose_frame`); (F, K) error, ncams, score."""
    path = Path(path)
    anipose_frame(bodyparts, points3d, error, ncams, score).to_csv(path, index=False)
    return path


def write_parquet3d(path: str | Path, bodyparts: Sequence[str], points3d: np.ndarray,
                    error: np.ndarray, ncams: np.ndarray, score: np.ndarray) -> Path:
    """Write the long table (frame, bodypart, x, y, z, error, ncams, score) as Parquet."""
    pts = _check(bodyparts, points3d)
    n, k, _ = pts.shape
    df = pd.DataFrame({
        "frame": np.repeat(np.arange(n), k),
        "bodypart": np.tile(np.array(list(bodyparts), dtype=object), n),
        "x": pts[..., 0].ravel(), "y": pts[..., 1].ravel(), "z": pts[..., 2].ravel(),
        "error": np.asarray(error, dtype=np.float64).ravel(),
        "ncams": np.asarray(ncams).astype(np.int64).ravel(),
        "score": np.asarray(score, dtype=np.float64).ravel(),
    })
    path = Path(path)
    df.to_parquet(path, index=False)
    return path

"""Pose tables from video analysis, DeepLabCut style, plus plain CSV / Parquet and filters.

A pose table holds, for every video frame, x, y and likelihood of each body part.
DeepLabCut writes it as ``<video stem><scorer>.h5`` (key ``df_with_missing``, PyTables
table format, float32, integer frame index 0..N-1) with a ``.csv`` of 3 header rows
(scorer / bodyparts / coords); ``movement`` and sleap-io read that layout. With several
animals, the columns have DeepLabCut's multi-animal levels scorer / individuals / bodyparts
/ coords (4 header rows), one individual per track, and ``movement`` names its individuals
after them.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .collected_data import (
    COLUMN_NAMES,
    HDF_KEY,
    MULTI_COLUMN_NAMES,
    UNIQUE_INDIVIDUAL,
    read_hdf_frame,
)
from .errors import FormatError, existing_file
from .pose import check_names

POSE_COORDS = ["x", "y", "likelihood"]


@dataclass
class PoseTable:
    """Per-frame poses of one animal, or of several named individuals (tracks).

    poses: float64 holding x, y, likelihood; NaN x/y = no position. Shaped (frames,
    keypoints, 3) for one animal (``individuals`` None, DeepLabCut's single-animal layout),
    or (frames, individuals, keypoints, 3) with one name per individual in ``individuals``
    (the multi-animal layout).
    """

    scorer: str
    bodyparts: list[str]
    poses: np.ndarray
    individuals: list[str] | None = None

    def __post_init__(self) -> None:
        self.bodyparts = check_names(self.bodyparts, "body parts")
        if not self.bodyparts:
            raise FormatError("a pose table needs at least one body part")
        if not isinstance(self.scorer, str) or not self.scorer:
            raise FormatError("a pose table needs a scorer name")
        poses = np.asarray(self.poses, dtype=np.float64)
        tail: tuple[int, ...] = (len(self.bodyparts), 3)
        if self.individuals is not None:
            self.individuals = check_names(self.individuals, "individuals")
            if not self.individuals:
                raise FormatError("a multi-animal pose table needs at least one individual")
            tail = (len(self.individuals), *tail)
        if poses.ndim != 1 + len(tail) or poses.shape[1:] != tail:
            shape = ", ".join(map(str, ("frames", *tail)))
            raise FormatError(f"poses must be shaped ({shape}), got {poses.shape}")
        if np.isinf(poses).any():
            raise FormatError("poses contain infinite values")
        likelihood = poses[..., 2]
        if ((likelihood < 0) | (likelihood > 1)).any():
            raise FormatError("likelihood values must lie in [0, 1]")
        self.poses = poses

    @property
    def multi_animal(self) -> bool:
        """Whether the table has an individuals axis (the multi-animal layout)."""
        return self.individuals is not None

    def _per_individual(self) -> np.ndarray:
        return self.poses if self.multi_animal else self.poses[:, None]

    @property
    def keypoints(self) -> np.ndarray:
        """Positions in the shared vocabulary: (frames, individuals, keypoints, 2)."""
        return self._per_individual()[..., :2]

    @property
    def likelihood(self) -> np.ndarray:
        """Likelihoods: (frames, individuals, keypoints)."""
        return self._per_individual()[..., 2]


def pose_frame(table: PoseTable) -> pd.DataFrame:
    """The DeepLabCut DataFrame (float32, index 0..N-1), columns scorer/bodyparts/coords or,
    for a multi-animal table, scorer/individuals/bodyparts/coords."""
    if table.individuals is None:
        columns = pd.MultiIndex.from_product(
            [[table.scorer], table.bodyparts, POSE_COORDS], names=COLUMN_NAMES
        )
    else:
        columns = pd.MultiIndex.from_product(
            [[table.scorer], table.individuals, table.bodyparts, POSE_COORDS],
            names=MULTI_COLUMN_NAMES,
        )
    n = table.poses.shape[0]
    return pd.DataFrame(
        table.poses.reshape(n, -1).astype(np.float32),
        index=pd.Index(np.arange(n, dtype=np.int64)),
        columns=columns,
    )


def write_pose_table(
    path_stem: str | Path,
    scorer: str,
    bodyparts: Sequence[str],
    poses: np.ndarray,
    individuals: Sequence[str] | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.h5`` and ``<stem>.csv``; poses (frames, keypoints, 3) x, y, likelihood.

    With ``individuals`` (e.g. track names), poses are (frames, individuals, keypoints, 3)
    and the table has DeepLabCut's multi-animal layout. Values are stored as float32, like
    DeepLabCut. Returns (h5 path, csv path).
    """
    names = None if individuals is None else list(individuals)
    table = PoseTable(scorer, list(bodyparts), poses, names)
    df = pose_frame(table)
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    h5_path = stem.with_name(stem.name + ".h5")
    csv_path = stem.with_name(stem.name + ".csv")
    df.to_hdf(h5_path, key=HDF_KEY, format="table", mode="w")
    df.to_csv(csv_path)
    return h5_path, csv_path


def read_pose_table(path: str | Path) -> PoseTable:
    """Read a DeepLabCut pose table (.h5 or .csv with 3 or 4 header rows) and validate it.

    A multi-animal table (an individuals level) gives ``individuals`` in file order and
    poses (frames, individuals, keypoints, 3). Values come back as float64 holding the stored
    float32 values.
    """
    path = existing_file(path)
    try:
        df = _read_pose_csv(path) if path.suffix.lower() == ".csv" else read_hdf_frame(path)
        return _table_from_frame(df)
    except FormatError as exc:
        if exc.path is not None:
            raise
        raise FormatError(exc.problem, path) from exc


def _read_pose_csv(path: Path) -> pd.DataFrame:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        rows = csv.reader(fh)
        widths = [(len(row), row[0] if row else "") for row in rows]
    first = [cell for _, cell in widths[:4]]
    names = MULTI_COLUMN_NAMES if first[1:2] == ["individuals"] else COLUMN_NAMES
    if first[: len(names)] != names:
        raise FormatError(
            f"expected {len(names)} header rows starting {' / '.join(names)}, "
            f"found {first[: len(names)]}"
        )
    # pandas pads short rows with NaN; a truncated file must fail instead.
    for line, (width, _) in enumerate(widths, start=1):
        if width != widths[0][0]:
            raise FormatError(
                f"line {line} has {width} fields, expected {widths[0][0]} (truncated or malformed)"
            )
    try:
        # Not index_col=0: pandas takes an empty first data row ("0,,,") for the index's name.
        df = pd.read_csv(path, header=list(range(len(names))))
    except (ValueError, pd.errors.ParserError) as exc:
        raise FormatError(f"malformed CSV ({exc})") from exc
    df = df.set_index(df.columns[0])
    df.index.name = None
    df.columns = pd.MultiIndex.from_tuples(list(df.columns), names=names)
    return df


def _table_from_frame(df: pd.DataFrame) -> PoseTable:
    names = list(df.columns.names)
    multi = df.columns.nlevels == 4
    if df.columns.nlevels not in (3, 4) or (multi and names[1] not in ("individuals", None)):
        raise FormatError(
            f"columns must have the levels {COLUMN_NAMES} or {MULTI_COLUMN_NAMES}, found {names}"
        )
    bad = [str(c) for c, dtype in df.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    if bad:
        raise FormatError(f"non-numeric values (or a truncated row) in column(s) {bad[:3]}")
    scorers = df.columns.get_level_values(0).unique().tolist()
    if len(scorers) != 1:
        raise FormatError(f"expected one scorer, found {scorers}")
    levels = [[str(v) for v in dict.fromkeys(df.columns.get_level_values(i))] for i in (1, 2)]
    individuals = levels[0] if multi else None
    bodyparts = levels[1] if multi else levels[0]
    if individuals is not None and UNIQUE_INDIVIDUAL in individuals and len(individuals) > 1:
        raise FormatError(
            f"unique body parts (individual {UNIQUE_INDIVIDUAL!r}) are not supported in pose tables"
        )
    wanted = pd.MultiIndex.from_product(
        [scorers, *([individuals] if individuals is not None else []), bodyparts, POSE_COORDS]
    )
    if len(df.columns) != len(wanted) or not df.columns.equals(wanted):
        per = "individual and body part" if multi else "body part"
        raise FormatError(
            f"expected columns x, y, likelihood per {per}, found {len(df.columns)} columns"
        )
    frames = np.asarray(df.index)
    if not np.issubdtype(frames.dtype, np.integer) or not np.array_equal(
        frames, np.arange(len(frames))
    ):
        raise FormatError("the row index must be the frame numbers 0..N-1")
    # Pose tables are float32 (the CSV holds float32 reprs), so both files read alike.
    values = df.to_numpy(dtype=np.float32).astype(np.float64)
    per_frame = (*([len(individuals)] if individuals else []), len(bodyparts), 3)
    return PoseTable(str(scorers[0]), bodyparts, values.reshape(len(df), *per_frame), individuals)


def apply_pcutoff(poses: np.ndarray, cutoff: float) -> np.ndarray:
    """Copy of poses (frames, [individuals,] keypoints, 3) with x, y set to NaN where
    likelihood < cutoff."""
    out = np.array(poses, dtype=np.float64, copy=True)
    low = out[..., 2] < cutoff
    out[..., :2][low] = np.nan
    return out


def median_filter(poses: np.ndarray, window: int) -> np.ndarray:
    """Running median of x and y over time, ignoring NaN; likelihood is kept as is.

    poses: (frames, [individuals,] keypoints, 3); ``window`` is an odd number of frames. A
    frame whose whole window is NaN stays NaN.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    out = np.array(poses, dtype=np.float64, copy=True)
    half = window // 2
    xy = out[..., :2]
    padded = np.pad(xy, [(half, half)] + [(0, 0)] * (xy.ndim - 1), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        out[..., :2] = np.nanmedian(windows, axis=-1)
    return out


def plain_frame(bodyparts: Sequence[str], poses: np.ndarray, layout: str = "wide"
                ) -> pd.DataFrame:
    """Poses (frames, keypoints, 3) as one flat table.

    ``wide``: one row per frame, columns frame, <part>_x, <part>_y, <part>_likelihood.
    ``long``: one row per frame and body part, columns frame, bodypart, x, y, likelihood.
    """
    table = PoseTable("export", list(bodyparts), poses)
    n, k, _ = table.poses.shape
    if layout == "wide":
        df = pd.DataFrame(
            table.poses.reshape(n, -1),
            columns=[f"{bp}_{c}" for bp in table.bodyparts for c in POSE_COORDS],
        )
        df.insert(0, "frame", np.arange(n))
        return df
    if layout == "long":
        return pd.DataFrame(
            {
                "frame": np.repeat(np.arange(n), k),
                "bodypart": np.tile(np.array(table.bodyparts, dtype=object), n),
                **{c: table.poses[..., i].ravel() for i, c in enumerate(POSE_COORDS)},
            }
        )
    raise ValueError(f"layout must be 'wide' or 'long', got {layout!r}")


PLAIN_SUFFIXES = {".csv": "wide", ".parquet": "long"}  # and each one's default layout


def write_plain_table(
    path: str | Path,
    bodyparts: Sequence[str],
    poses: np.ndarray,
    layout: str | None = None,
) -> Path:
    """A plain table by file suffix: ``.csv`` for spreadsheets (``wide`` by default) or
    ``.parquet`` (pyarrow) for pandas / polars / R (tidy ``long`` by default); see
    `plain_frame` for the layouts."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PLAIN_SUFFIXES:
        raise ValueError(f"plain tables are .csv or .parquet, got {path.name!r}")
    df = plain_frame(bodyparts, poses, layout or PLAIN_SUFFIXES[suffix])
    if suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path

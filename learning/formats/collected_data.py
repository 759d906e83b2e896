"""DeepLabCut's labeled data: ``CollectedData_<scorer>.h5`` and ``.csv``, one or several animals.

Single-animal files have the column levels scorer / bodyparts / coords; multi-animal files
(DeepLabCut's maDLC layout) scorer / individuals / bodyparts / coords. Rows are images,
indexed by one relative path or by the 3 levels labeled-data / <video> / <image>.
DeepLabCut's "unique" body parts (individual ``single``) are refused: they belong to no
animal and have no place in the (frames, individuals, keypoints, xy) vocabulary.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .errors import FormatError, existing_file
from .pose import LabeledFrames

HDF_KEY = "df_with_missing"
COLUMN_NAMES = ["scorer", "bodyparts", "coords"]
MULTI_COLUMN_NAMES = ["scorer", "individuals", "bodyparts", "coords"]
# The CSV beside a single-animal CollectedData .h5 names its one animal in an "individuals"
# header row, as DeepLabCut's multi-animal files do: `movement.io.load_poses.from_dlc_file`
# reads a CSV only when its first column starts scorer / individuals / bodyparts / coords, or
# scorer / bodyparts / coords followed by a frame number, and labeled data are indexed by
# image path. DeepLabCut's `convertcsv2h5` reads both layouts. The name is movement's for one
# animal.
CSV_COLUMN_NAMES = MULTI_COLUMN_NAMES
CSV_INDIVIDUAL = "individual_0"
UNIQUE_INDIVIDUAL = "single"
IndexStyle = Literal["path", "multi"]


@dataclass
class _Table:
    """A CollectedData file's cells before validation; one entry per data column."""

    scorers: list[str]
    individuals: list[str] | None  # None when the file has no individuals level
    parts: list[str]
    coords: list[str]
    paths: list[str]  # one per row
    values: np.ndarray  # float64 (rows, columns)


def read_collected_data(
    path: str | Path,
    expected_bodyparts: Sequence[str] | None = None,
    expected_individuals: Sequence[str] | None = None,
) -> LabeledFrames:
    """Read a ``CollectedData_<scorer>.h5`` or ``.csv`` into LabeledFrames.

    Both index styles are accepted (one path string, or the 3-level
    ``labeled-data / video / image`` index) and give relative paths with forward slashes.
    keypoints: float64 (frames, individuals, keypoints, 2), NaN = not labeled. A file naming
    several individuals gives one slot per individual in file order and their names in
    ``individuals``; a file naming one (or none) gives one anonymous slot. With
    ``expected_bodyparts``, the file must have exactly those, and the result uses that order;
    with ``expected_individuals`` (a multi-animal project's), the file may name only those,
    the result has one slot per expected name in that order and absent ones stay NaN.
    """
    path = existing_file(path)
    try:
        if path.suffix.lower() == ".csv":
            table = _table_from_csv(path)
        elif path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
            table = _table_from_hdf(path)
        else:
            raise FormatError("expected a .h5 or .csv file")
        return _frames_from_table(table, expected_bodyparts, expected_individuals)
    except FormatError as exc:
        if exc.path is not None:
            raise
        raise FormatError(exc.problem, path) from exc


def read_hdf_frame(path: Path) -> pd.DataFrame:
    """The DataFrame under key df_with_missing (or the only key) of a pandas HDF5 file."""
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store]
            if HDF_KEY in keys:
                key = HDF_KEY
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise FormatError(f"expected key {HDF_KEY!r} or a single key, found {keys}")
            data = store[key]
    except FormatError:
        raise
    except Exception as exc:  # PyTables/h5py raise many unrelated types for a broken file
        raise FormatError(f"not a readable pandas HDF5 file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, pd.DataFrame):
        raise FormatError(f"key {key!r} holds a {type(data).__name__}, not a DataFrame")
    return data


def _table_from_hdf(path: Path) -> _Table:
    df = read_hdf_frame(path)
    names = list(df.columns.names)
    levels = {3: COLUMN_NAMES, 4: MULTI_COLUMN_NAMES}.get(df.columns.nlevels)
    if levels is None or names not in (levels, [None] * len(levels)):
        raise FormatError(
            f"columns must have the levels {COLUMN_NAMES} or {MULTI_COLUMN_NAMES}, found {names}"
        )
    bad = [str(c) for c, dtype in df.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    if bad:
        raise FormatError(f"non-numeric values in column(s) {', '.join(bad[:5])}")
    if isinstance(df.index, pd.MultiIndex):
        if df.index.nlevels != 3:
            raise FormatError(f"a multi-level row index must have 3 levels, has {df.index.nlevels}")
        paths = ["/".join(str(part) for part in row) for row in df.index]
    else:
        if not all(isinstance(p, str) for p in df.index):
            raise FormatError("the row index must be image paths")
        paths = list(df.index)
    cells = [[str(v) for v in df.columns.get_level_values(i)] for i in range(len(levels))]
    individuals = cells[1] if len(levels) == 4 else None
    return _Table(cells[0], individuals, cells[-2], cells[-1], paths, df.to_numpy(dtype=np.float64))


def _read_csv_rows(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FormatError(f"not a readable CSV file ({exc})") from exc
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise FormatError("file is empty")
    return rows


def _csv_header(rows: list[list[str]], names: list[str]) -> tuple[int, list[list[str]]]:
    """Number of index columns and the header rows' data cells (one list per row)."""
    n = len(names)
    first = [r[0].strip() if r else "" for r in rows[:n]]
    if first != names:
        raise FormatError(f"expected {n} header rows starting {' / '.join(names)}, found {first}")
    n_index = 1
    while n_index < len(rows[0]) and rows[0][n_index] == "":
        n_index += 1
    if n_index not in (1, 3):
        raise FormatError(f"expected 1 or 3 index columns, found {n_index}")
    width = len(rows[0])
    for line, row in enumerate(rows[:n], start=1):
        if len(row) != width:
            raise FormatError(f"header line {line} has {len(row)} fields, expected {width}")
        if any(row[1:n_index]):
            raise FormatError(f"header line {line} has values in the index columns")
    return n_index, [row[n_index:] for row in rows[:n]]


def _parse_value(text: str, line: int, column: str) -> float:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"line {line}, column {column}: {text!r} is not a number") from None


def _table_from_csv(path: Path) -> _Table:
    rows = _read_csv_rows(path)
    multi = len(rows) > 1 and bool(rows[1]) and rows[1][0].strip() == "individuals"
    names = MULTI_COLUMN_NAMES if multi else COLUMN_NAMES
    n_index, header = _csv_header(rows, names)
    scorers, parts, coords = header[0], header[-2], header[-1]
    width = len(rows[0])
    paths: list[str] = []
    values = np.empty((len(rows) - len(names), width - n_index), dtype=np.float64)
    for i, row in enumerate(rows[len(names) :]):
        line = i + len(names) + 1
        if len(row) != width:
            raise FormatError(
                f"line {line} has {len(row)} fields, expected {width} (truncated or malformed row)"
            )
        if not all(cell.strip() for cell in row[:n_index]):
            raise FormatError(f"line {line} has no image path")
        paths.append("/".join(cell.strip() for cell in row[:n_index]))
        for j, cell in enumerate(row[n_index:]):
            values[i, j] = _parse_value(cell, line, f"{parts[j]}/{coords[j]}")
    return _Table(scorers, header[1] if multi else None, parts, coords, paths, values)


def _column_positions(
    parts: list[str], coords: list[str], columns: list[int], who: str
) -> tuple[list[str], dict[tuple[str, str], int]]:
    """Body parts in file order and the column of each (body part, coord) among ``columns``."""
    odd = sorted({coords[j] for j in columns} - {"x", "y"})
    if odd:
        hint = " (this looks like a pose table; use read_pose_table)" if "likelihood" in odd else ""
        raise FormatError(f"coords must be x and y only, found {odd}{hint}")
    positions: dict[tuple[str, str], int] = {}
    for col in columns:
        key = (parts[col], coords[col])
        if key in positions:
            raise FormatError(f"duplicate column {who}{key[0]}/{key[1]}")
        positions[key] = col
    order = list(dict.fromkeys(parts[j] for j in columns))
    lacking = [f"{who}{bp}/{c}" for bp in order for c in ("x", "y") if (bp, c) not in positions]
    if lacking:
        raise FormatError(f"missing column(s) {', '.join(lacking)}")
    return order, positions


def _individual_columns(table: _Table) -> dict[str, list[int]]:
    """Data columns per individual in file order; one unnamed group for single-animal files."""
    if table.individuals is None:
        return {"": list(range(len(table.parts)))}
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(table.individuals):
        groups.setdefault(name, []).append(j)
    if UNIQUE_INDIVIDUAL in groups and len(groups) > 1:
        unique = list(dict.fromkeys(table.parts[j] for j in groups[UNIQUE_INDIVIDUAL]))
        raise FormatError(
            f"unique body parts (individual {UNIQUE_INDIVIDUAL!r}: {', '.join(unique)}) are not "
            "supported; remove them or make them body parts of every individual"
        )
    return groups


def _check_bodyparts(found: list[str], expected: Sequence[str] | None) -> list[str]:
    if expected is None:
        return found
    unknown = [bp for bp in found if bp not in expected]
    missing = [bp for bp in expected if bp not in found]
    if unknown or missing:
        raise FormatError(
            "body parts do not match the project: "
            + "; ".join(
                f"{label} {', '.join(names)}"
                for label, names in (("unknown", unknown), ("missing", missing))
                if names
            )
        )
    return list(expected)


def _slots(names: list[str], expected: Sequence[str] | None, named: bool) -> list[str] | None:
    """The result's individual names (None = one anonymous slot) after checking the file's."""
    if expected is None:
        return names if len(names) > 1 else None
    if not named:
        raise FormatError("expected labels of named individuals, found no individuals level")
    unknown = [n for n in names if n not in expected]
    if unknown:
        raise FormatError(
            f"unknown individual(s) {', '.join(unknown)}; expected {', '.join(expected)}"
        )
    return list(expected)


def _frames_from_table(
    table: _Table,
    expected_bodyparts: Sequence[str] | None,
    expected_individuals: Sequence[str] | None,
) -> LabeledFrames:
    if len(set(table.scorers)) > 1:
        raise FormatError(f"several scorers in one file: {sorted(set(table.scorers))}")
    if not table.parts:
        raise FormatError("no body part columns")
    groups = _individual_columns(table)
    positions: dict[str, dict[tuple[str, str], int]] = {}
    bodyparts: list[str] = []
    for name, columns in groups.items():
        order, positions[name] = _column_positions(
            table.parts, table.coords, columns, f"{name}/" if name else ""
        )
        if not bodyparts:
            bodyparts, first = order, name
        elif set(order) != set(bodyparts):
            raise FormatError(
                f"individual {name} has body parts {', '.join(order)} but {first} has "
                f"{', '.join(bodyparts)}; every individual needs the same body parts"
            )
    bodyparts = _check_bodyparts(bodyparts, expected_bodyparts)
    individuals = _slots(list(groups), expected_individuals, table.individuals is not None)
    paths = [p.replace("\\", "/") for p in table.paths]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise FormatError(f"duplicate rows for image(s) {', '.join(dupes[:5])}")
    slots = individuals if individuals is not None else list(groups)
    kp = np.full((len(paths), len(slots), len(bodyparts), 2), np.nan)
    for t, name in enumerate(slots):
        if name in positions:
            cols = [positions[name][(bp, c)] for bp in bodyparts for c in ("x", "y")]
            kp[:, t] = table.values[:, cols].reshape(len(paths), len(bodyparts), 2)
    _check_coordinates(kp, paths, bodyparts, individuals)
    return LabeledFrames(
        image_paths=paths,
        bodyparts=bodyparts,
        keypoints=kp,
        scorer=table.scorers[0] if table.scorers else "",
        individuals=individuals,
    )


def _check_coordinates(
    kp: np.ndarray, paths: list[str], bodyparts: list[str], individuals: list[str] | None
) -> None:
    """Name the first offending image, individual and body part, which LabeledFrames cannot."""
    checks = (
        (np.isinf(kp).any(axis=-1), "an infinite coordinate"),
        ((kp < 0).any(axis=-1), "a negative coordinate"),
        (np.isnan(kp[..., 0]) != np.isnan(kp[..., 1]), "only one of x, y"),
    )
    for bad, what in checks:
        if bad.any():
            f, t, k = np.argwhere(bad)[0]
            who = "" if individuals is None else f" of {individuals[t]}"
            raise FormatError(
                f"{what} for {bodyparts[k]}{who} in {paths[f]} ({int(bad.sum())} such point(s))"
            )


def labels_frame(
    scorer: str,
    bodyparts: Sequence[str],
    image_paths: Sequence[str],
    keypoints: np.ndarray,
    index_style: IndexStyle = "path",
    individuals: Sequence[str] | None = None,
) -> pd.DataFrame:
    """DeepLabCut's CollectedData DataFrame; keypoints (frames, [individuals,] keypoints, 2).

    One anonymous individual gives the single-animal columns scorer / bodyparts / coords;
    several individuals, or named ones, give scorer / individuals / bodyparts / coords with
    ``individuals`` (default individual_0, individual_1…) as the names.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 3:
        kp = kp[:, None]
    frames = LabeledFrames(
        list(image_paths),
        list(bodyparts),
        kp,
        scorer=scorer,
        individuals=None if individuals is None else list(individuals),
    )
    if frames.n_individuals == 1 and individuals is None:
        columns = pd.MultiIndex.from_product(
            [[scorer], frames.bodyparts, ["x", "y"]], names=COLUMN_NAMES
        )
    else:
        columns = pd.MultiIndex.from_product(
            [[scorer], frames.individual_names(), frames.bodyparts, ["x", "y"]],
            names=MULTI_COLUMN_NAMES,
        )
    index: pd.Index
    if index_style == "multi":
        split = [tuple(p.split("/")) for p in frames.image_paths]
        if any(len(s) != 3 for s in split):
            raise FormatError("a 3-level index needs paths like labeled-data/<video>/<image>")
        index = pd.MultiIndex.from_tuples(split)
    else:
        index = pd.Index(frames.image_paths)
    return pd.DataFrame(kp.reshape(frames.n_frames, -1), index=index, columns=columns)


def write_collected_data(
    folder: str | Path,
    scorer: str,
    bodyparts: Sequence[str],
    image_paths: Sequence[str],
    keypoints: np.ndarray,
    index_style: IndexStyle = "path",
    individuals: Sequence[str] | None = None,
) -> tuple[Path, Path]:
    """Write ``CollectedData_<scorer>.h5`` (key df_with_missing) and ``.csv``.

    keypoints: (frames, keypoints, 2) or (frames, individuals, keypoints, 2), NaN = not
    labeled. Several (or named) individuals are written in DeepLabCut's multi-animal layout
    (see `labels_frame`). ``index_style`` "path" (one string, like the shipped examples;
    table format) or "multi" (3 levels, like DeepLabCut 3; fixed format) shapes the .h5. The
    .csv always has the one-column path index and an "individuals" header row (`csv_frame`
    for one animal), so that movement reads it too. Returns (h5 path, csv path).
    """
    df = labels_frame(scorer, bodyparts, image_paths, keypoints, index_style, individuals)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    h5_path = folder / f"CollectedData_{scorer}.h5"
    csv_path = folder / f"CollectedData_{scorer}.csv"
    # PyTables' table format cannot hold a row MultiIndex next to column MultiIndex, so the
    # 3-level style is stored "fixed"; pandas reads both the same way.
    fmt = "fixed" if index_style == "multi" else "table"
    df.to_hdf(h5_path, key=HDF_KEY, format=fmt, mode="w")
    by_path = labels_frame(scorer, bodyparts, image_paths, keypoints, "path", individuals)
    if by_path.columns.nlevels == len(COLUMN_NAMES):
        by_path = csv_frame(by_path)
    by_path.to_csv(csv_path)
    return h5_path, csv_path


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A single-animal CollectedData frame (path index) with the CSV's "individuals" level.

    movement reads that CSV; DeepLabCut's `convertcsv2h5` reads it back to these values.
    """
    columns = [(scorer, CSV_INDIVIDUAL, part, coord) for scorer, part, coord in df.columns]
    return df.set_axis(pd.MultiIndex.from_tuples(columns, names=CSV_COLUMN_NAMES), axis=1)

"""DeepLabCut projects: ``config.yaml`` and ``labeled-data/<video>/CollectedData_<scorer>``.

Single-animal only for now; multi-animal files are refused with a clear FormatError.
Pose tables from video analysis live in :mod:`learning.formats.pose_table`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from PIL import Image, UnidentifiedImageError

from .errors import FormatError
from .pose import LabeledFrames, check_names, check_skeleton

HDF_KEY = "df_with_missing"
COLUMN_NAMES = ["scorer", "bodyparts", "coords"]
# The CSV beside a CollectedData .h5 names its one animal in an "individuals" header row, as
# DeepLabCut's multi-animal files do: `movement.io.load_poses.from_dlc_file` reads a CSV only
# when its first column starts scorer / individuals / bodyparts / coords, or scorer /
# bodyparts / coords followed by a frame number, and labeled data are indexed by image path.
# DeepLabCut's `convertcsv2h5` reads both layouts. The name is movement's for one animal.
CSV_COLUMN_NAMES = ["scorer", "individuals", "bodyparts", "coords"]
CSV_INDIVIDUAL = "individual_0"
IndexStyle = Literal["path", "multi"]
ImageSource = Mapping[str, str | Path] | Callable[[str, Path], None]


@dataclass(frozen=True)
class DLCConfig:
    """The parts of a DeepLabCut ``config.yaml`` PoseLoop uses.

    ``extra`` keeps every other key so that a project written back keeps them.
    """

    task: str
    scorer: str
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...] = ()
    date: str = field(default_factory=lambda: dt.date.today().strftime("%b%d"))
    video_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    multianimal: bool = False
    individuals: tuple[str, ...] = ()
    project_path: str = ""
    training_fraction: tuple[float, ...] = (0.95,)
    iteration: int = 0
    default_net_type: str = "resnet_50"
    numframes2pick: int = 20
    pcutoff: float = 0.6
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("task", "scorer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise FormatError(f"config {name} must be a non-empty string, got {value!r}")
        parts = tuple(check_names(self.bodyparts, "body parts"))
        if not parts:
            raise FormatError("config lists no body parts")
        object.__setattr__(self, "bodyparts", parts)
        object.__setattr__(self, "skeleton", tuple(check_skeleton(self.skeleton, parts)))
        fractions = tuple(self.training_fraction)
        if not fractions or any(not 0 < float(f) <= 1 for f in fractions):
            raise FormatError(f"TrainingFraction must be fractions in (0, 1], got {fractions!r}")
        object.__setattr__(self, "training_fraction", tuple(float(f) for f in fractions))


@dataclass(frozen=True)
class DLCProject:
    """A DeepLabCut project read from disk.

    ``frames`` carries the config's scorer and skeleton and every image's (width, height);
    ``image_files[i]`` is the absolute path of ``frames.image_paths[i]``.
    """

    root: Path
    config: DLCConfig
    frames: LabeledFrames
    image_files: list[Path]


# --- config.yaml ---------------------------------------------------------------------------


def read_dlc_config(path: str | Path) -> DLCConfig:
    """Read and validate a DeepLabCut ``config.yaml``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FormatError(f"cannot read as YAML ({exc})", path) from exc
    if not isinstance(raw, dict):
        raise FormatError("config.yaml is empty or not a mapping", path)
    try:
        return _config_from_dict(raw)
    except FormatError as exc:
        raise FormatError(exc.problem, path) from exc


def _config_from_dict(raw: dict[str, Any]) -> DLCConfig:
    missing = [k for k in ("Task", "scorer", "bodyparts") if k not in raw]
    if missing:
        raise FormatError(f"config.yaml lacks required key(s): {', '.join(missing)}")
    multianimal = bool(raw.get("multianimalproject") or False)
    if multianimal:
        bodyparts = list(raw.get("multianimalbodyparts") or []) + list(
            raw.get("uniquebodyparts") or []
        )
    else:
        bodyparts = raw["bodyparts"]
    if not isinstance(bodyparts, list):
        raise FormatError(f"bodyparts must be a list, got {bodyparts!r}")
    video_sets = raw.get("video_sets") or {}
    if not isinstance(video_sets, dict):
        raise FormatError("video_sets must be a mapping of video path to settings")
    fractions = raw.get("TrainingFraction", [0.95])
    if not isinstance(fractions, list):
        fractions = [fractions]
    known = {
        "Task", "scorer", "date", "bodyparts", "skeleton", "video_sets", "multianimalproject",
        "individuals", "project_path", "TrainingFraction", "iteration", "default_net_type",
        "numframes2pick", "pcutoff",
    }  # fmt: skip
    try:
        return DLCConfig(
            task=str(raw["Task"]),
            scorer=str(raw["scorer"]) if raw["scorer"] is not None else "",
            bodyparts=tuple(bodyparts),
            skeleton=tuple(
                tuple(e) if isinstance(e, list) else e for e in raw.get("skeleton") or []
            ),
            date=str(raw.get("date") or ""),
            video_sets={str(k): dict(v or {}) for k, v in video_sets.items()},
            multianimal=multianimal,
            individuals=tuple(str(i) for i in raw.get("individuals") or []),
            project_path=str(raw.get("project_path") or ""),
            training_fraction=tuple(fractions),
            iteration=int(raw.get("iteration") or 0),
            default_net_type=str(raw.get("default_net_type") or "resnet_50"),
            numframes2pick=int(raw.get("numframes2pick") or 20),
            pcutoff=float(raw.get("pcutoff", 0.6)),
            extra={k: v for k, v in raw.items() if k not in known},
        )
    except FormatError:
        raise
    except (TypeError, ValueError) as exc:
        raise FormatError(f"config.yaml has a value of the wrong type ({exc})") from exc


def config_to_yaml_dict(config: DLCConfig, project_path: str | Path) -> dict[str, Any]:
    """The ``config.yaml`` content DeepLabCut needs to create a training set and train."""
    if config.multianimal:
        raise FormatError("writing multi-animal DeepLabCut projects is not supported yet")
    out: dict[str, Any] = {
        "Task": config.task, "scorer": config.scorer, "date": config.date,
        "multianimalproject": False, "identity": None, "project_path": str(project_path),
        "engine": "pytorch", "video_sets": config.video_sets,
        "bodyparts": list(config.bodyparts), "start": 0, "stop": 1,
        "numframes2pick": config.numframes2pick,
        "skeleton": [list(e) for e in config.skeleton], "skeleton_color": "black",
        "pcutoff": config.pcutoff, "dotsize": 8, "alphavalue": 0.7, "colormap": "rainbow",
        "TrainingFraction": list(config.training_fraction), "iteration": config.iteration,
        "default_net_type": config.default_net_type, "default_augmenter": "default",
        "snapshotindex": -1, "detector_snapshotindex": -1, "batch_size": 8,
        "detector_batch_size": 1, "cropping": False, "x1": 0, "x2": 640, "y1": 277, "y2": 624,
        "corner2move2": [50, 50], "move2corner": True,
    }  # fmt: skip
    for key, value in config.extra.items():
        if key not in ("multianimalproject", "project_path", "video_sets"):
            out[key] = value
    return out


# --- CollectedData -------------------------------------------------------------------------


def read_collected_data(
    path: str | Path, expected_bodyparts: Sequence[str] | None = None
) -> LabeledFrames:
    """Read a ``CollectedData_<scorer>.h5`` or ``.csv`` into LabeledFrames.

    Both index styles are accepted (one path string, or the 3-level
    ``labeled-data / video / image`` index) and give relative paths with forward slashes.
    keypoints: float64 (frames, 1, keypoints, 2), NaN = not labeled. With
    ``expected_bodyparts``, the file must have exactly those, and the result uses that order.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    if path.stat().st_size == 0:
        raise FormatError("file is empty", path)
    try:
        if path.suffix.lower() == ".csv":
            table = _table_from_csv(path)
        elif path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
            table = _table_from_hdf(path)
        else:
            raise FormatError("expected a .h5 or .csv file")
        return _frames_from_table(*table, expected_bodyparts=expected_bodyparts)
    except FormatError as exc:
        if exc.path is not None:
            raise
        raise FormatError(exc.problem, path) from exc


# (scorers, bodyparts, coords) per column, image path per row, values (rows, columns)
_Table = tuple[list[str], list[str], list[str], list[str], np.ndarray]


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


def drop_single_individual(df: pd.DataFrame) -> pd.DataFrame:
    """Columns without their 'individuals' level when it names one animal; several → error."""
    if "individuals" not in list(df.columns.names):
        return df
    individuals = df.columns.get_level_values("individuals").unique().tolist()
    if len(individuals) != 1:
        raise FormatError(
            f"multi-animal labels ({len(individuals)} individuals) are not supported yet"
        )
    return df.droplevel("individuals", axis=1)


def _table_from_hdf(path: Path) -> _Table:
    df = drop_single_individual(read_hdf_frame(path))
    names = list(df.columns.names)
    if df.columns.nlevels == 4:
        raise FormatError("multi-animal labels (an 'individuals' level) are not supported yet")
    if df.columns.nlevels != 3 or names not in (COLUMN_NAMES, [None, None, None]):
        raise FormatError(f"columns must have the levels {COLUMN_NAMES}, found {names}")
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
    scorers, parts, coords = ([str(v) for v in df.columns.get_level_values(i)] for i in range(3))
    return scorers, parts, coords, paths, df.to_numpy(dtype=np.float64)


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


def _drop_individuals_row(rows: list[list[str]]) -> tuple[list[list[str]], int]:
    """The rows without an 'individuals' header row naming one animal (several → error), and
    how many rows were dropped."""
    if len(rows) < 2 or not rows[1] or rows[1][0].strip() != "individuals":
        return rows, 0
    names = {cell for cell in rows[1][1:] if cell}
    if len(names) > 1:
        raise FormatError(f"multi-animal labels ({len(names)} individuals) are not supported yet")
    return [rows[0], *rows[2:]], 1


def _csv_header(rows: list[list[str]]) -> tuple[int, list[list[str]]]:
    """Number of index columns and the three header rows' data cells."""
    first = [r[0].strip() if r else "" for r in rows[:4]]
    if first[:3] != COLUMN_NAMES:
        raise FormatError(
            f"expected 3 header rows starting scorer / bodyparts / coords, found {first[:3]}"
        )
    n_index = 1
    while n_index < len(rows[0]) and rows[0][n_index] == "":
        n_index += 1
    if n_index not in (1, 3):
        raise FormatError(f"expected 1 or 3 index columns, found {n_index}")
    width = len(rows[0])
    for line, row in enumerate(rows[:3], start=1):
        if len(row) != width:
            raise FormatError(f"header line {line} has {len(row)} fields, expected {width}")
        if any(row[1:n_index]):
            raise FormatError(f"header line {line} has values in the index columns")
    return n_index, [row[n_index:] for row in rows[:3]]


def _parse_value(text: str, line: int, column: str) -> float:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"line {line}, column {column}: {text!r} is not a number") from None


def _table_from_csv(path: Path) -> _Table:
    rows, dropped = _drop_individuals_row(_read_csv_rows(path))
    n_index, (scorers, parts, coords) = _csv_header(rows)
    width = len(rows[0])
    paths: list[str] = []
    values = np.empty((len(rows) - 3, width - n_index), dtype=np.float64)
    for i, row in enumerate(rows[3:]):
        line = i + 4 + dropped
        if len(row) != width:
            raise FormatError(
                f"line {line} has {len(row)} fields, expected {width} (truncated or malformed row)"
            )
        if not all(cell.strip() for cell in row[:n_index]):
            raise FormatError(f"line {line} has no image path")
        paths.append("/".join(cell.strip() for cell in row[:n_index]))
        for j, cell in enumerate(row[n_index:]):
            values[i, j] = _parse_value(cell, line, f"{parts[j]}/{coords[j]}")
    return scorers, parts, coords, paths, values


def _column_positions(
    parts: list[str], coords: list[str]
) -> tuple[list[str], dict[tuple[str, str], int]]:
    """Body parts in file order and the column of each (body part, coord)."""
    odd = sorted(set(coords) - {"x", "y"})
    if odd:
        hint = " (this looks like a pose table; use read_pose_table)" if "likelihood" in odd else ""
        raise FormatError(f"coords must be x and y only, found {odd}{hint}")
    positions: dict[tuple[str, str], int] = {}
    for col, key in enumerate(zip(parts, coords, strict=True)):
        if key in positions:
            raise FormatError(f"duplicate column {key[0]}/{key[1]}")
        positions[key] = col
    order = list(dict.fromkeys(parts))
    lacking = [f"{bp}/{c}" for bp in order for c in ("x", "y") if (bp, c) not in positions]
    if lacking:
        raise FormatError(f"missing column(s) {', '.join(lacking)}")
    return order, positions


def _frames_from_table(
    scorers: list[str],
    parts: list[str],
    coords: list[str],
    paths: list[str],
    values: np.ndarray,
    expected_bodyparts: Sequence[str] | None,
) -> LabeledFrames:
    if len(set(scorers)) > 1:
        raise FormatError(f"several scorers in one file: {sorted(set(scorers))}")
    if not parts:
        raise FormatError("no body part columns")
    bodyparts, positions = _column_positions(parts, coords)
    if expected_bodyparts is not None:
        unknown = [bp for bp in bodyparts if bp not in expected_bodyparts]
        missing = [bp for bp in expected_bodyparts if bp not in bodyparts]
        if unknown or missing:
            raise FormatError(
                "body parts do not match the project: "
                + "; ".join(
                    f"{label} {', '.join(names)}"
                    for label, names in (("unknown", unknown), ("missing", missing))
                    if names
                )
            )
        bodyparts = list(expected_bodyparts)
    paths = [p.replace("\\", "/") for p in paths]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise FormatError(f"duplicate rows for image(s) {', '.join(dupes[:5])}")
    cols = [positions[(bp, c)] for bp in bodyparts for c in ("x", "y")]
    kp = values[:, cols].reshape(len(paths), 1, len(bodyparts), 2)
    _check_coordinates(kp, paths, bodyparts)
    return LabeledFrames(
        image_paths=paths, bodyparts=bodyparts, keypoints=kp, scorer=scorers[0] if scorers else ""
    )


def _check_coordinates(kp: np.ndarray, paths: list[str], bodyparts: list[str]) -> None:
    """Name the first offending image and body part, which LabeledFrames cannot."""
    checks = (
        (np.isinf(kp).any(axis=-1), "an infinite coordinate"),
        ((kp < 0).any(axis=-1), "a negative coordinate"),
        (np.isnan(kp[..., 0]) != np.isnan(kp[..., 1]), "only one of x, y"),
    )
    for bad, what in checks:
        if bad.any():
            f, _, k = np.argwhere(bad)[0]
            raise FormatError(
                f"{what} for {bodyparts[k]} in {paths[f]} ({int(bad.sum())} such point(s))"
            )


def labels_frame(
    scorer: str,
    bodyparts: Sequence[str],
    image_paths: Sequence[str],
    keypoints: np.ndarray,
    index_style: IndexStyle = "path",
) -> pd.DataFrame:
    """DeepLabCut's CollectedData DataFrame; keypoints (frames, [1,] keypoints, 2)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 3:
        kp = kp[:, None]
    frames = LabeledFrames(list(image_paths), list(bodyparts), kp, scorer=scorer)
    if frames.n_individuals != 1:
        raise FormatError("writing multi-animal DeepLabCut labels is not supported yet")
    columns = pd.MultiIndex.from_product(
        [[scorer], frames.bodyparts, ["x", "y"]], names=COLUMN_NAMES
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
) -> tuple[Path, Path]:
    """Write ``CollectedData_<scorer>.h5`` (key df_with_missing, table format) and ``.csv``.

    keypoints: (frames, keypoints, 2) or (frames, 1, keypoints, 2), NaN = not labeled.
    ``index_style`` "path" (one string, like the shipped examples; table format) or "multi"
    (3 levels, like DeepLabCut 3; fixed format) shapes the .h5. The .csv always has the
    one-column path index and an "individuals" header row (`csv_frame`), so that movement
    reads it too. Returns (h5 path, csv path).
    """
    df = labels_frame(scorer, bodyparts, image_paths, keypoints, index_style)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    h5_path = folder / f"CollectedData_{scorer}.h5"
    csv_path = folder / f"CollectedData_{scorer}.csv"
    # PyTables' table format cannot hold a row MultiIndex next to column MultiIndex, so the
    # 3-level style is stored "fixed"; pandas reads both the same way.
    fmt = "fixed" if index_style == "multi" else "table"
    df.to_hdf(h5_path, key=HDF_KEY, format=fmt, mode="w")
    csv_frame(labels_frame(scorer, bodyparts, image_paths, keypoints)).to_csv(csv_path)
    return h5_path, csv_path


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A CollectedData frame (path index) with the CSV's "individuals" level (see CSV_INDIVIDUAL).

    movement reads that CSV; DeepLabCut's `convertcsv2h5` reads it back to these values.
    """
    columns = [(scorer, CSV_INDIVIDUAL, part, coord) for scorer, part, coord in df.columns]
    return df.set_axis(pd.MultiIndex.from_tuples(columns, names=CSV_COLUMN_NAMES), axis=1)


# --- projects ------------------------------------------------------------------------------


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image from its header, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, UnidentifiedImageError) as exc:
        raise FormatError(f"cannot read image header ({exc})", path) from exc


def _labels_file(folder: Path, scorer: str) -> Path | None:
    """The folder's CollectedData file: the config scorer's first, .h5 before .csv."""
    for pattern in (f"CollectedData_{scorer}.h5", f"CollectedData_{scorer}.csv"):
        if (folder / pattern).is_file():
            return folder / pattern
    for suffix in ("h5", "csv"):
        found = sorted(folder.glob(f"CollectedData_*.{suffix}"))
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise FormatError(f"several label files and none for scorer {scorer}: {names}", folder)
        if found:
            return found[0]
    return None


def read_dlc_project(project_dir: str | Path) -> DLCProject:
    """Read a DeepLabCut project: config plus every ``labeled-data/*/CollectedData_*``.

    Checks that every labeled image exists and reads its size from the header.
    """
    root = Path(project_dir)
    config = read_dlc_config(root / "config.yaml")
    if config.multianimal:
        raise FormatError("multi-animal DeepLabCut projects are not supported yet", root)
    parts: list[LabeledFrames] = []
    labeled = root / "labeled-data"
    folders = sorted(p for p in labeled.iterdir() if p.is_dir()) if labeled.is_dir() else []
    for folder in folders:
        labels = _labels_file(folder, config.scorer)
        if labels is not None:
            parts.append(read_collected_data(labels, expected_bodyparts=config.bodyparts))
    paths = [p for part in parts for p in part.image_paths]
    files = [root / p for p in paths]
    missing = [p for p, f in zip(paths, files, strict=True) if not f.is_file()]
    if missing:
        raise FormatError(
            f"{len(missing)} labeled image(s) missing, e.g. {', '.join(missing[:3])}", root
        )
    n_parts = len(config.bodyparts)
    frames = LabeledFrames(
        image_paths=paths,
        bodyparts=list(config.bodyparts),
        keypoints=np.concatenate([p.keypoints for p in parts])
        if parts
        else np.empty((0, 1, n_parts, 2)),
        skeleton=list(config.skeleton),
        scorer=config.scorer,
        image_sizes=[image_size(f) for f in files],
    )
    return DLCProject(root=root, config=config, frames=frames, image_files=files)


def _place_images(root: Path, paths: list[str], images: ImageSource | None) -> None:
    if images is None:
        return
    for rel in paths:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if callable(images):
            images(rel, dest)
        elif rel in images:
            shutil.copyfile(images[rel], dest)
        else:
            raise FormatError(f"no image source for {rel}")


def write_dlc_project(
    folder: str | Path,
    config: DLCConfig,
    frames: LabeledFrames,
    images: ImageSource | None = None,
    index_style: IndexStyle = "path",
) -> Path:
    """Write a DeepLabCut project DeepLabCut can train from; returns its config.yaml path.

    ``frames.image_paths`` must look like ``labeled-data/<video>/<image>``. ``images`` maps
    each of them to a file to copy, or is a callback ``(relative path, destination)`` that
    writes it; None leaves the images to the caller. Each labeled-data folder gets a
    ``video_sets`` entry (DeepLabCut finds labels through it) unless one already matches.
    """
    root = Path(folder).resolve()
    if list(frames.bodyparts) != list(config.bodyparts):
        raise FormatError(
            f"frames' body parts {frames.bodyparts} differ from the config's "
            f"{list(config.bodyparts)}"
        )
    by_video: dict[str, list[int]] = {}
    for i, rel in enumerate(frames.image_paths):
        bits = rel.split("/")
        if len(bits) != 3 or bits[0] != "labeled-data":
            raise FormatError(f"image path {rel!r} is not labeled-data/<video>/<image>")
        by_video.setdefault(bits[1], []).append(i)
    root.mkdir(parents=True, exist_ok=True)
    _place_images(root, frames.image_paths, images)
    video_sets = dict(config.video_sets)
    stems = {Path(k.replace("\\", "/")).stem for k in video_sets}
    for video, rows in by_video.items():
        write_collected_data(
            root / "labeled-data" / video,
            config.scorer,
            frames.bodyparts,
            [frames.image_paths[i] for i in rows],
            frames.keypoints[rows],
            index_style,
        )
        if video not in stems:
            video_sets[str(root / "videos" / f"{video}.mp4")] = _video_entry(root, frames, rows)
    for sub in ("videos", "training-datasets", "dlc-models"):
        (root / sub).mkdir(exist_ok=True)
    body = config_to_yaml_dict(config, root)
    body["video_sets"] = video_sets
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return config_path


def _video_entry(root: Path, frames: LabeledFrames, rows: list[int]) -> dict[str, Any]:
    """A video_sets entry whose crop is the first image's full size, when known."""
    if frames.image_sizes is not None:
        width, height = frames.image_sizes[rows[0]]
    elif (root / frames.image_paths[rows[0]]).is_file():
        width, height = image_size(root / frames.image_paths[rows[0]])
    else:
        return {}
    return {"crop": f"0, {width}, 0, {height}"}

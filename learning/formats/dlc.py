"""DeepLabCut projects: ``config.yaml`` and ``labeled-data/<video>/CollectedData_<scorer>``.

Single- and multi-animal projects (``multianimalproject``, ``individuals``); the labels
files themselves are read and written by :mod:`learning.formats.collected_data`. Pose
tables from video analysis live in :mod:`learning.formats.pose_table`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from .collected_data import (
    COLUMN_NAMES,
    CSV_COLUMN_NAMES,
    CSV_INDIVIDUAL,
    HDF_KEY,
    IndexStyle,
    csv_frame,
    labels_frame,
    read_collected_data,
    read_hdf_frame,
    write_collected_data,
)
from .errors import FormatError
from .pose import LabeledFrames, check_names, check_skeleton

# Re-exported: callers import the CollectedData functions from here as before.
__all__ = [
    "COLUMN_NAMES", "CSV_COLUMN_NAMES", "CSV_INDIVIDUAL", "HDF_KEY", "DLCConfig", "DLCProject",
    "IndexStyle", "config_to_yaml_dict", "csv_frame", "image_size", "labels_frame",
    "read_collected_data", "read_dlc_config", "read_dlc_project", "read_hdf_frame",
    "write_collected_data", "write_dlc_project",
]  # fmt: skip

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
    """The ``config.yaml`` content DeepLabCut needs to create a training set and train.

    A multi-animal config lists its body parts as ``multianimalbodyparts`` (every individual
    has all of them; unique body parts are refused) and ``bodyparts: MULTI!``, as
    DeepLabCut's own multi-animal projects do.
    """
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
    ours = {"multianimalproject", "project_path", "video_sets"}
    if config.multianimal:
        _check_multianimal(config)
        ours |= {"identity", "uniquebodyparts", "multianimalbodyparts"}
        out.update(
            multianimalproject=True,
            identity=bool(config.extra.get("identity") or False),
            individuals=list(config.individuals),
            uniquebodyparts=[],
            multianimalbodyparts=list(config.bodyparts),
            bodyparts="MULTI!",
        )
    for key, value in config.extra.items():
        if key not in ours:
            out[key] = value
    return out


def _check_multianimal(config: DLCConfig) -> None:
    """Refuse what a multi-animal config holds that PoseLoop cannot represent."""
    unique = list(config.extra.get("uniquebodyparts") or [])
    if unique:
        raise FormatError(
            f"unique body parts ({', '.join(map(str, unique))}) are not supported; "
            "every body part must belong to every individual"
        )
    if not config.individuals:
        raise FormatError("a multi-animal config.yaml must list its individuals")
    check_names(config.individuals, "individuals")


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

    Checks that every labeled image exists and reads its size from the header. A
    multi-animal project gives one slot per individual of its config, in that order, and
    their names in ``frames.individuals``.
    """
    root = Path(project_dir)
    config = read_dlc_config(root / "config.yaml")
    individuals = None
    if config.multianimal:
        try:
            _check_multianimal(config)
        except FormatError as exc:
            raise FormatError(exc.problem, root / "config.yaml") from exc
        individuals = list(config.individuals)
    parts: list[LabeledFrames] = []
    labeled = root / "labeled-data"
    folders = sorted(p for p in labeled.iterdir() if p.is_dir()) if labeled.is_dir() else []
    for folder in folders:
        labels = _labels_file(folder, config.scorer)
        if labels is not None:
            part = read_collected_data(labels, config.bodyparts, individuals)
            if part.n_individuals != 1 and individuals is None:
                raise FormatError(
                    f"{part.n_individuals} individuals labeled but config.yaml is not a "
                    "multi-animal project (multianimalproject: false)",
                    labels,
                )
            parts.append(part)
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
        else np.empty((0, len(individuals or [""]), n_parts, 2)),
        skeleton=list(config.skeleton),
        scorer=config.scorer,
        image_sizes=[image_size(f) for f in files],
        individuals=individuals,
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
    A multi-animal config needs frames with one slot per config individual (named alike,
    or anonymous) and writes DeepLabCut's multi-animal labels.
    """
    root = Path(folder).resolve()
    if list(frames.bodyparts) != list(config.bodyparts):
        raise FormatError(
            f"frames' body parts {frames.bodyparts} differ from the config's "
            f"{list(config.bodyparts)}"
        )
    individuals = _project_individuals(config, frames)
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
            individuals,
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


def _project_individuals(config: DLCConfig, frames: LabeledFrames) -> list[str] | None:
    """The individual names to write: the config's for a multi-animal project, else None."""
    if not config.multianimal:
        if frames.n_individuals != 1:
            raise FormatError(
                f"frames have {frames.n_individuals} individuals but the config is not "
                "multi-animal"
            )
        return None
    _check_multianimal(config)
    names = list(config.individuals)
    named = frames.individuals is not None
    if frames.n_individuals != len(names) or (named and frames.individuals != names):
        raise FormatError(
            f"frames' individuals {frames.individual_names()} differ from the config's {names}"
        )
    return names


def _video_entry(root: Path, frames: LabeledFrames, rows: list[int]) -> dict[str, Any]:
    """A video_sets entry whose crop is the first image's full size, when known."""
    if frames.image_sizes is not None:
        width, height = frames.image_sizes[rows[0]]
    elif (root / frames.image_paths[rows[0]]).is_file():
        width, height = image_size(root / frames.image_paths[rows[0]])
    else:
        return {}
    return {"crop": f"0, {width}, 0, {height}"}

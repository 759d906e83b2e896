"""Importing labeled datasets (DeepLabCut projects, COCO keypoints) into PoseLoop projects.

Every run is all-or-nothing: the files are read and validated first through the format
adapters (:mod:`learning.formats`), then frames and labels are written in one transaction;
if that fails, the images already copied into media storage are deleted again. Re-importing
the same data creates nothing new: frames are matched by ``external_path`` (unique per
project) and a label whose points did not change is left as it is.

Imported labels belong to the import account (``annotation.labels.import_user``) whoever
runs the import, so that importing twice (or by two people) never gives a frame two labels.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from accounts.models import Membership, Role
from annotation.labels import import_label, import_user
from annotation.models import Label
from learning.exchange.label_points import instances_from_arrays, points_from_arrays
from learning.formats.coco import read_coco
from learning.formats.dlc import image_size, read_dlc_project
from learning.formats.errors import FormatError
from learning.formats.lightning_pose import read_lightning_pose
from learning.formats.pose import LabeledFrames
from projects.models import MAX_ANIMALS, Project
from projects.skeleton import set_skeleton
from videos.models import Frame, FrameOrigin, frame_upload_path

ProgressFn = Callable[[float, str], None]

# A zipped project may unpack to at most this much, in at most this many entries.
MAX_UNPACKED_BYTES = 4 * 1024**3
MAX_ZIP_ENTRIES = 100_000

# Name patterns of left/right partners: (side, stem) for each; two names pair when they
# match the same pattern with the same stem (case-insensitive) and opposite sides.
_SIDE_PATTERNS = (
    re.compile(r"^(?P<side>left|right)[_\- ]?(?P<stem>.+)$", re.IGNORECASE),  # leftear, Left_Ear
    re.compile(r"^(?P<stem>.+?)[_\- ]?(?P<side>left|right)$", re.IGNORECASE),  # ear_left, EarRight
    re.compile(r"^(?P<side>[lr])[_\-](?P<stem>.+)$", re.IGNORECASE),  # L_ear, r-paw
    re.compile(r"^(?P<stem>.+)[_\-](?P<side>[lr])$", re.IGNORECASE),  # ear_l, paw-R
)


@dataclass(frozen=True)
class ImportSummary:
    """What one import run did."""

    project: Project
    project_created: bool
    frames_created: int
    frames_existing: int
    labels_written: int
    labels_unchanged: int
    points: int
    absent_points: int

    def describe(self) -> str:
        """One line for people (the command prints it, the API returns it)."""
        return (
            f"project {self.project.name!r} ({'created' if self.project_created else 'existing'}): "
            f"{self.frames_created} frame(s) added, {self.frames_existing} already there; "
            f"{self.labels_written} label(s) written, {self.labels_unchanged} unchanged; "
            f"{self.points} point(s), {self.absent_points} absent"
        )

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "project": self.project.pk,
            "project_name": self.project.name,
            "project_created": self.project_created,
            "frames_created": self.frames_created,
            "frames_existing": self.frames_existing,
            "labels_written": self.labels_written,
            "labels_unchanged": self.labels_unchanged,
            "points": self.points,
            "absent_points": self.absent_points,
        }


def guess_mirror_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Left/right partners guessed from body part names, as (left, right) pairs.

    Recognized: a ``left``/``right`` prefix or suffix (``leftear``/``rightear``,
    ``ear_left``/``ear_right``, ``LeftEar``/``RightEar``) and a one-letter side set off by
    ``_`` or ``-`` (``L_ear``/``R_ear``, ``ear_l``/``ear_r``). Case-insensitive; each name is
    in at most one pair; names in config order decide between competing partners.
    """
    keys: dict[str, list[tuple[int, str, str]]] = {}
    for name in names:
        for i, pattern in enumerate(_SIDE_PATTERNS):
            match = pattern.match(name)
            if match and match["stem"].strip("_- "):
                side = "left" if match["side"][0].lower() == "l" else "right"
                keys.setdefault(name, []).append((i, match["stem"].strip("_- ").lower(), side))
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for name in names:
        for pattern_i, stem, side in keys.get(name, []):
            if name in used or side != "left":
                continue
            partner = next(
                (
                    other
                    for other in names
                    if other not in used
                    and other != name
                    and (pattern_i, stem, "right") in keys.get(other, [])
                ),
                None,
            )
            if partner is not None:
                pairs.append((name, partner))
                used.update({name, partner})
    return pairs


# --- shared core ---------------------------------------------------------------------------


def _check_bounds(frames: LabeledFrames) -> None:
    """Every present point must lie inside its image (the annotation app's rule)."""
    assert frames.image_sizes is not None
    sizes = np.asarray(frames.image_sizes, dtype=np.float64)  # (frames, 2)
    kp = frames.keypoints  # (frames, individuals, keypoints, 2)
    outside = (kp > sizes[:, None, None, :]).any(axis=-1)  # NaN compares False
    if outside.any():
        f, _, k = np.argwhere(outside)[0]
        w, h = frames.image_sizes[f]
        raise FormatError(
            f"{frames.bodyparts[k]} in {frames.image_paths[f]} lies outside the {w}x{h} image "
            f"({int(outside.sum())} such point(s))"
        )


def _check_relative(path: str) -> None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or ":" in path or not pure.parts:
        raise FormatError(f"image path {path!r} must be relative, without '..'")


def _validate(frames: LabeledFrames, files: Sequence[Path]) -> None:
    if frames.n_frames == 0:
        raise FormatError("no labeled frames found")
    if frames.n_individuals > MAX_ANIMALS:
        raise FormatError(f"{frames.n_individuals} animals per image: at most {MAX_ANIMALS}")
    for rel in frames.image_paths:
        _check_relative(rel)
        if len(rel) > Frame._meta.get_field("external_path").max_length:
            raise FormatError(f"image path {rel[:80]!r}… is too long")
    if frames.image_sizes is None:
        frames.image_sizes = [image_size(f) for f in files]
    _check_bounds(frames)


def _points(frames: LabeledFrames, part_ids: list[int], multi: bool = False
            ) -> list[list[dict[str, Any]]]:
    """Labels in the annotation contract's shape, one per frame: the first individual's points,
    or (`multi`) every individual as an instance."""
    vis = frames.visibility_or_default()
    tracks = individual_names(frames)
    if multi:
        return [instances_from_arrays(frames.keypoints[f], vis[f], part_ids, tracks)
                for f in range(frames.n_frames)]
    return [points_from_arrays(frames.keypoints[f, 0], vis[f, 0], part_ids)
            for f in range(frames.n_frames)]


def individual_names(frames: LabeledFrames) -> list[str]:
    """The file's individual names where it has them, else individual_0, individual_1…"""
    names = list(getattr(frames, "individuals", None) or [])
    if len(names) == frames.n_individuals:
        return [str(n) for n in names]
    return [f"individual_{i}" for i in range(frames.n_individuals)]


def _skeleton_spec(frames: LabeledFrames) -> dict[str, Any]:
    return {
        "bodyparts": [{"name": n} for n in frames.bodyparts],
        "edges": [list(e) for e in frames.skeleton],
        "pairs": [list(p) for p in guess_mirror_pairs(frames.bodyparts)],
    }


def _find_project(project: Project | None, name: str | None) -> Project | None:
    if project is not None:
        return project
    if not name or not name.strip():
        raise FormatError("a project name is needed")
    if len(name.strip()) > Project._meta.get_field("name").max_length:
        raise FormatError("the project name is too long")
    return Project.objects.filter(name=name.strip()).first()


def _check_project_parts(project: Project, frames: LabeledFrames) -> dict[str, int]:
    """Body part name → id, if the project has exactly the file's body parts."""
    if project.deleted_at is not None:
        raise FormatError(f"project {project.name!r} was deleted")
    ids = dict(project.bodyparts.values_list("name", "pk"))
    unknown = [n for n in frames.bodyparts if n not in ids]
    missing = [n for n in ids if n not in frames.bodyparts]
    if unknown or missing:
        bits = []
        if unknown:
            bits.append(f"unknown {', '.join(unknown)}")
        if missing:
            bits.append(f"missing {', '.join(missing)}")
        raise FormatError(f"body parts do not match project {project.name!r}: {'; '.join(bits)}")
    return ids


def _check_animals(project: Project, frames: LabeledFrames) -> None:
    """The file's animals per image fit the project (a single-animal file fits any)."""
    if frames.n_individuals > 1 and frames.n_individuals > project.max_animals:
        kind = "single-animal" if not project.multi_animal else \
            f"at most {project.max_animals} animals"
        raise FormatError(f"the file has {frames.n_individuals} animals per image but project "
                          f"{project.name!r} is {kind}")


def _existing_frames(project: Project, frames: LabeledFrames) -> dict[str, Frame]:
    assert frames.image_sizes is not None
    found = {
        f.external_path: f
        for f in Frame.objects.filter(project=project, external_path__in=frames.image_paths)
    }
    for rel, (w, h) in zip(frames.image_paths, frames.image_sizes, strict=True):
        old = found.get(rel)
        if old is not None and (old.width, old.height) != (w, h):
            raise FormatError(
                f"{rel} is {w}x{h} but the frame already imported under that path is "
                f"{old.width}x{old.height}"
            )
    return found


def _store_image(project: Project, rel: str, source: Path) -> str:
    """Copy one image into media storage; returns its storage name."""
    stub = Frame(project=project)
    filename = "__".join(PurePosixPath(rel).parts[-2:]) or source.name
    with source.open("rb") as fh:
        return default_storage.save(frame_upload_path(stub, filename), File(fh, name=filename))


def _write(
    project: Project,
    frames: LabeledFrames,
    files: Sequence[Path],
    part_ids: dict[str, int],
    stored: list[str],
    progress: ProgressFn,
) -> tuple[int, int, int, int]:
    """Frames and labels, inside the caller's transaction; appends storage names to `stored`."""
    assert frames.image_sizes is not None
    existing = _existing_frames(project, frames)
    new: list[Frame] = []
    for i, (rel, source) in enumerate(zip(frames.image_paths, files, strict=True)):
        if rel in existing:
            continue
        stored.append(_store_image(project, rel, source))
        w, h = frames.image_sizes[i]
        new.append(
            Frame(project=project, image=stored[-1], width=w, height=h,
                  origin=FrameOrigin.IMPORTED, external_path=rel)
        )  # fmt: skip
        if i % 20 == 0:
            progress(0.5 * i / frames.n_frames, f"stored {len(new)} image(s)")
    Frame.objects.bulk_create(new)
    by_path = {**existing, **{f.external_path: f for f in new}}
    owner = import_user()
    previous = dict(
        Label.objects.filter(project=project, annotator=owner).values_list("frame_id", "points")
    )
    all_points = _points(frames, [part_ids[n] for n in frames.bodyparts], project.multi_animal)
    written = 0
    for i, (rel, points) in enumerate(zip(frames.image_paths, all_points, strict=True)):
        frame = by_path[rel]
        if previous.get(frame.pk) == points:
            continue
        import_label(project, frame, points)
        written += 1
        if i % 20 == 0:
            progress(0.5 + 0.5 * i / frames.n_frames, f"labeled {i + 1} frame(s)")
    return len(new), len(existing), written, frames.n_frames - written


def import_frames(
    frames: LabeledFrames,
    files: Sequence[Path],
    *,
    project: Project | None = None,
    project_name: str | None = None,
    user: AbstractBaseUser | None = None,
    progress: ProgressFn | None = None,
    named_individuals: bool = False,
) -> ImportSummary:
    """Import validated LabeledFrames whose images are ``files`` (same order); all or nothing.

    Into ``project``, or the live project called ``project_name``, which is created from the
    frames' body parts and skeleton (left/right pairs by :func:`guess_mirror_pairs`) when
    there is none; ``user`` becomes its PI. A project created from several animals names
    them by the frames' individuals when ``named_individuals`` (the animals can be told
    apart, DeepLabCut's identity option). Raises FormatError before writing anything when
    the data does not fit. The transaction holds the project row lock (set_skeleton, or a
    select_for_update here) so two imports into one project serialize.
    """
    report = progress or (lambda fraction, message: None)
    _validate(frames, files)
    target = _find_project(project, project_name)
    if target is not None:
        _check_project_parts(target, frames)
        _check_animals(target, frames)
        _existing_frames(target, frames)
    stored: list[str] = []
    try:
        with transaction.atomic():
            created = target is None
            if target is None:
                named = named_individuals and frames.n_individuals > 1
                target = Project.objects.create(name=str(project_name).strip(), created_by=user,
                                                max_animals=min(frames.n_individuals,
                                                                MAX_ANIMALS),
                                                individuals=individual_names(frames) if named
                                                else [])
                if user is not None:
                    Membership.objects.create(user=user, project=target, role=Role.PI)
                set_skeleton(target, _skeleton_spec(frames))  # type: ignore[arg-type]
            else:
                target = Project.objects.select_for_update().get(pk=target.pk)
            part_ids = _check_project_parts(target, frames)
            counts = _write(target, frames, files, part_ids, stored, report)
    except ValidationError as exc:
        _delete(stored)
        raise FormatError("; ".join(exc.messages)) from exc
    except IntegrityError as exc:
        # Another import created the project or its frames at the same time.
        _delete(stored)
        raise FormatError(
            "the project changed during the import; nothing was imported, run it again"
        ) from exc
    except BaseException:
        _delete(stored)
        raise
    report(1.0, "done")
    absent = int(np.isnan(frames.keypoints[..., 0]).sum())
    return ImportSummary(target, created, *counts, frames.keypoints[..., 0].size, absent)


def _delete(names: Sequence[str]) -> None:
    for name in names:
        default_storage.delete(name)


# --- DeepLabCut ----------------------------------------------------------------------------


def run_dlc_import(
    project_dir: str | Path,
    *,
    project_name: str | None = None,
    project: Project | None = None,
    user: AbstractBaseUser | None = None,
    progress: ProgressFn | None = None,
) -> ImportSummary:
    """Import a DeepLabCut project folder, or a Lightning Pose label folder (its
    CollectedData.csv beside labeled-data/, no config.yaml; `is_lightning_pose`); see
    :func:`import_frames` for the rules.

    One frame per labeled image (``external_path`` = ``labeled-data/<video>/<image>``, size
    read per image), one imported label per frame, NaN → state "absent". A multi-animal
    project's individuals are the labels' tracks; with ``identity: true`` a new project
    names its animals after them.
    """
    folder = Path(project_dir)
    if is_lightning_pose(folder):
        frames = read_lightning_pose(folder)
        return import_frames(
            frames, [folder / rel for rel in frames.image_paths], project=project,
            project_name=project_name or (None if project else folder.name),
            user=user, progress=progress)
    dlc = read_dlc_project(project_dir)
    return import_frames(
        dlc.frames, dlc.image_files, project=project,
        project_name=project_name or (None if project else dlc.config.task),
        user=user, progress=progress,
        named_individuals=dlc.config.multianimal and bool(dlc.config.extra.get("identity")),
    )  # fmt: skip


def is_lightning_pose(folder: Path) -> bool:
    """A Lightning Pose label folder: CollectedData.csv and labeled-data/, no config.yaml."""
    return (not (folder / "config.yaml").exists() and (folder / "CollectedData.csv").is_file()
            and (folder / "labeled-data").is_dir())


def import_dlc_project(
    project_dir: str | Path,
    *,
    project_name: str,
    user: AbstractBaseUser | None = None,
    progress: ProgressFn | None = None,
) -> Project:
    """Import a DeepLabCut project folder into the project ``project_name`` (created if new)."""
    summary = run_dlc_import(project_dir, project_name=project_name, user=user, progress=progress)
    return summary.project


# --- COCO ----------------------------------------------------------------------------------


def read_coco_dataset(
    json_path: str | Path, images_dir: str | Path
) -> tuple[LabeledFrames, list[Path]]:
    """COCO keypoints and the image files they name (``images_dir / file_name``), checked."""
    frames = read_coco(json_path)
    root = Path(images_dir)
    for rel in frames.image_paths:
        _check_relative(rel)
    files = [root / rel for rel in frames.image_paths]
    missing = [rel for rel, f in zip(frames.image_paths, files, strict=True) if not f.is_file()]
    if missing:
        raise FormatError(f"{len(missing)} image(s) missing, e.g. {', '.join(missing[:3])}", root)
    assert frames.image_sizes is not None
    for rel, f, declared in zip(frames.image_paths, files, frames.image_sizes, strict=True):
        actual = image_size(f)
        if actual != declared:
            raise FormatError(
                f"{rel} is {actual[0]}x{actual[1]}, the JSON says {declared[0]}x{declared[1]}"
            )
    return frames, files


def import_coco(
    project: Project | str,
    json_path: str | Path,
    images_dir: str | Path,
    *,
    user: AbstractBaseUser | None = None,
    progress: ProgressFn | None = None,
) -> ImportSummary:
    """Import COCO keypoints (one category, one animal per image) into ``project``.

    ``project`` is a Project, or a name (created from the COCO category when there is none).
    Visibility 1 → "occluded", 2 → "visible", 0 → "absent"; ``external_path`` = file_name.
    """
    frames, files = read_coco_dataset(json_path, images_dir)
    if isinstance(project, Project):
        return import_frames(frames, files, project=project, user=user, progress=progress)
    return import_frames(frames, files, project_name=project, user=user, progress=progress)


# --- zipped uploads ------------------------------------------------------------------------


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    pure = PurePosixPath(name)
    if name.startswith(("/", "\\")) or "\\" in name or re.match(r"^[A-Za-z]:", name):
        raise FormatError(f"zip entry {name!r} has an absolute or Windows path")
    if ".." in pure.parts:
        raise FormatError(f"zip entry {name!r} points outside the folder ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise FormatError(f"zip entry {name!r} is a symbolic link")


def extract_project_zip(archive: Any, dest: str | Path, *, max_bytes: int | None = None) -> Path:
    """Unpack a zipped DeepLabCut project safely and return the folder holding config.yaml.

    ``archive`` is a path or a binary file object. Refuses (FormatError) absolute paths,
    ``..``, symbolic links, more than MAX_ZIP_ENTRIES entries and more than ``max_bytes``
    unpacked (default MAX_UNPACKED_BYTES), all checked before anything is written. The
    config may be at the top or inside one folder.
    """
    limit = MAX_UNPACKED_BYTES if max_bytes is None else max_bytes
    dest = Path(dest).resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise FormatError(f"the zip has {len(infos)} entries, over {MAX_ZIP_ENTRIES}")
            for info in infos:
                _check_member(info)
            total = sum(i.file_size for i in infos)
            if total > limit:
                raise FormatError(
                    f"the zip unpacks to {total / 2**20:.0f} MB, over the {limit / 2**20:.0f} MB "
                    "limit"
                )
            for info in infos:
                target = (dest / info.filename).resolve()
                if not target.is_relative_to(dest):
                    raise FormatError(f"zip entry {info.filename!r} points outside the folder")
                zf.extract(info, dest)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"not a readable zip file ({exc})") from exc
    configs = sorted(dest.glob("config.yaml")) or sorted(dest.glob("*/config.yaml"))
    if len(configs) != 1:
        raise FormatError(
            "the zip must hold one DeepLabCut project: config.yaml at the top or in one folder"
        )
    return configs[0].parent

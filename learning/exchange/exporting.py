"""Exporting a project's consensus labels as a dataset other tools read.

The labels are the annotation app's consensus (``annotation.agreement.consensus_keypoints``:
submitted and accepted labels, averaged over annotators); frames without such a label are
left out. Formats: a DeepLabCut project folder, COCO keypoints JSON, SLEAP ``.slp`` — each
written by its adapter in :mod:`learning.formats`, with the images next to it.

A multi-animal project (``max_animals`` > 1) exports one individual slot per animal
(``annotation.agreement.consensus_instances``), named by the project's individuals when it
names them, else ``individual_0``, ``individual_1``… (DeepLabCut needs fixed names): a
DeepLabCut multi-animal project (``identity: true`` when the animals are named), COCO with
one annotation per animal (its slot's name as ``track``) and SLEAP with one track per slot.
An instance goes to the slot of its track; a stored track that is no slot name keeps the
slot it first took, so one animal stays in one slot from frame to frame.

Zipped exports live in private media storage under ``projects/<id>/exports/`` and are only
served through the access-checked download view.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from annotation.agreement import consensus_instances, consensus_keypoints
from jobs.models import Job, JobKind
from jobs.progress import create_job, report, running
from learning.formats.coco import write_coco
from learning.formats.dlc import DLCConfig, write_dlc_project
from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames, default_individuals
from projects.models import Project
from videos.models import Frame

ExportFormat = Literal["dlc", "coco", "sleap"]
FORMATS: tuple[ExportFormat, ...] = ("dlc", "coco", "sleap")
ProgressFn = Callable[[float, str], None]
DEFAULT_SCORER = "poseloop"
EXPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.zip$")
# Already-compressed images are stored as they are; JSON, CSV, YAML and HDF5 are deflated.
_STORED_SUFFIXES = {".png", ".jpg", ".jpeg", ".mp4"}


@dataclass(frozen=True)
class Dataset:
    """A project's consensus labels with the frames they belong to (same order)."""

    frames: LabeledFrames
    sources: list[Frame]


@dataclass(frozen=True)
class ExportResult:
    """A zipped export in media storage."""

    name: str
    storage_name: str
    format: str
    n_frames: int
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (a Job's result)."""
        return {
            "name": self.name,
            "format": self.format,
            "n_frames": self.n_frames,
            "size_bytes": self.size_bytes,
        }


def _relative_path(frame: Frame, taken: set[str]) -> str:
    """``labeled-data/<video>/<image>`` for a frame: its import path, else made up."""
    bits = frame.external_path.split("/") if frame.external_path else []
    if len(bits) == 3 and bits[0] == "labeled-data" and all(bits):
        rel = frame.external_path
    else:
        suffix = PurePosixPath(frame.image.name).suffix or ".png"
        if frame.video_id is not None and frame.frame_index is not None:
            folder = Path(frame.video.name).stem
            stem = f"img{frame.frame_index:05d}"
        else:
            folder = "imported"
            stem = PurePosixPath(bits[-1]).stem if bits else f"frame{frame.pk}"
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", folder).strip("._") or "video"
        rel = f"labeled-data/{folder}/{re.sub(r'[^A-Za-z0-9._-]+', '_', stem)}{suffix}"
    if rel in taken:
        path = PurePosixPath(rel)
        rel = str(path.with_name(f"{path.stem}_f{frame.pk}{path.suffix}"))
    taken.add(rel)
    return rel


def individual_slots(project: Project) -> list[str]:
    """The names of a multi-animal export's individuals: the project's, else individual_0…"""
    slots = max(project.max_animals, 1)
    names = list(project.individuals or [])
    return names if len(names) == slots else default_individuals(slots)


def assign_slots(tracks: list[list[str]], names: list[str]) -> list[list[int]]:
    """The slot of every instance of every frame (frames in time order).

    An instance whose track is a slot name, or a track that already took a slot on an
    earlier frame, goes to that slot when it is free on its frame; the others take the free
    slots in order, and their track keeps the slot it took. Each frame has at most
    ``len(names)`` instances.
    """
    bound = {name: j for j, name in enumerate(names)}
    out: list[list[int]] = []
    for frame_tracks in tracks:
        slots: list[int | None] = [None] * len(frame_tracks)
        used: set[int] = set()
        for i, track in enumerate(frame_tracks):
            j = bound.get(track) if track else None
            if j is not None and j not in used:
                slots[i] = j
                used.add(j)
        for i, track in enumerate(frame_tracks):
            if slots[i] is None:
                j = next(k for k in range(len(names)) if k not in used)
                slots[i] = j
                used.add(j)
                if track:
                    bound.setdefault(track, j)
        out.append([int(j) for j in slots if j is not None])
    return out


def _frame_sources(project: Project, frame_ids: list[int]) -> list[Frame]:
    if not frame_ids:
        raise FormatError(f"project {project.name!r} has no submitted or accepted labels")
    by_id = Frame.objects.select_related("video").in_bulk(frame_ids)
    return [by_id[fid] for fid in frame_ids]


def _multi_animal_arrays(project: Project) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(frame ids, keypoints (N, slots, K, 2), visibility (N, slots, K)) with each instance
    in its slot (:func:`assign_slots`, frames in video order)."""
    frame_ids, keypoints, visibility, tracks = consensus_instances(project)
    names = individual_slots(project)
    where = {pk: (video is None, video or 0, index is None, index or 0, pk) for pk, video, index
             in Frame.objects.filter(pk__in=frame_ids).values_list("pk", "video_id",
                                                                   "frame_index")}
    # Slots follow the animals through time: assign video by video, in frame order.
    timeline = sorted(range(len(frame_ids)), key=lambda i: where[frame_ids[i]])
    slots = assign_slots([tracks[i] for i in timeline], names)
    kp = np.full_like(keypoints, np.nan)
    vis = np.zeros_like(visibility)
    for i, frame_slots in zip(timeline, slots, strict=True):
        kp[i, frame_slots] = keypoints[i, : len(frame_slots)]
        vis[i, frame_slots] = visibility[i, : len(frame_slots)]
    return frame_ids, kp, vis


def collect_dataset(project: Project) -> Dataset:
    """The project's consensus labels as LabeledFrames (with visibility and image sizes).

    keypoints (frames, individuals, keypoints, 2) NaN = absent; visibility (frames,
    individuals, keypoints). One individual in a single-animal project; ``max_animals``
    named slots in a multi-animal one (see the module doc).
    Raises FormatError when no frame has a submitted or accepted label.
    """
    individuals = None
    if project.multi_animal:
        frame_ids, keypoints, visibility = _multi_animal_arrays(project)
        individuals = individual_slots(project)
    else:
        frame_ids, single, single_vis = consensus_keypoints(project)
        keypoints, visibility = single[:, None], single_vis[:, None]
    sources = _frame_sources(project, frame_ids)
    taken: set[str] = set()
    parts = list(project.bodyparts.order_by("order", "id"))
    names = {bp.pk: bp.name for bp in parts}
    frames = LabeledFrames(
        image_paths=[_relative_path(f, taken) for f in sources],
        bodyparts=[bp.name for bp in parts],
        keypoints=keypoints,
        visibility=visibility,
        skeleton=[(names[e.source_id], names[e.target_id]) for e in project.edges.all()],
        image_sizes=[(f.width, f.height) for f in sources],
        individuals=individuals,
    )
    return Dataset(frames=frames, sources=sources)


def _copy_images(dataset: Dataset, root: Path, progress: ProgressFn) -> None:
    n = len(dataset.sources)
    for i, (rel, frame) in enumerate(zip(dataset.frames.image_paths, dataset.sources, strict=True)):
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with frame.image.open("rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        if i % 20 == 0:
            progress(0.8 * i / n, f"copied {i + 1} of {n} image(s)")


def _task_name(project: Project) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", project.name) or "poseloop"


def _write_dlc(
    project: Project, dataset: Dataset, root: Path, scorer: str, progress: ProgressFn
) -> Path:
    _copy_images(dataset, root, progress)
    multi = dataset.frames.individuals is not None
    config = DLCConfig(
        task=_task_name(project),
        scorer=scorer,
        bodyparts=tuple(dataset.frames.bodyparts),
        skeleton=tuple(dataset.frames.skeleton),
        multianimal=multi,
        individuals=tuple(dataset.frames.individuals or ()),
        # DeepLabCut's identity option: the animals can be told apart (named individuals).
        extra={"identity": bool(project.individuals)} if multi else {},
    )
    path = write_dlc_project(root, config, dataset.frames, images=None)
    progress(0.9, "wrote the DeepLabCut project")
    return path


def _write_coco(
    project: Project, dataset: Dataset, out: Path, images_dir: Path | None, progress: ProgressFn
) -> Path:
    if images_dir is not None:
        _copy_images(dataset, images_dir, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = write_coco(out, dataset.frames, category_name=_task_name(project))
    progress(0.9, "wrote the COCO file")
    return path


def _write_sleap(
    dataset: Dataset, out: Path, images_dir: Path | None, progress: ProgressFn
) -> Path:
    from learning.formats.sleap import write_slp  # sleap-io is heavy: import on use

    if images_dir is not None:
        _copy_images(dataset, images_dir, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = write_slp(out, dataset.frames)
    progress(0.9, "wrote the SLEAP file")
    return path


def _quiet(fraction: float, message: str) -> None:
    """A progress callback that reports nothing."""


def export_dlc(
    project: Project,
    out_dir: str | Path,
    scorer: str = DEFAULT_SCORER,
    *,
    progress: ProgressFn | None = None,
) -> Path:
    """Write a DeepLabCut project folder (config.yaml, labeled-data/ with images and
    ``CollectedData_<scorer>.h5/.csv``); returns the config.yaml path.

    Occluded points are written as labeled (DeepLabCut has no occlusion flag).
    """
    return _write_dlc(project, collect_dataset(project), Path(out_dir), scorer, progress or _quiet)


def export_coco(
    project: Project,
    out_path: str | Path,
    *,
    images_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """Write COCO keypoints JSON (file_name = ``labeled-data/<video>/<image>``); with
    ``images_dir``, copy the images there under those names. Occlusion is kept (v = 1).
    """
    images = None if images_dir is None else Path(images_dir)
    return _write_coco(
        project, collect_dataset(project), Path(out_path), images, progress or _quiet
    )


def export_sleap(
    project: Project,
    out_path: str | Path,
    *,
    images_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """Write SLEAP labels (``.slp``, images not embedded, paths relative); with
    ``images_dir``, copy the images there. SLEAP keeps no occlusion flag.
    """
    images = None if images_dir is None else Path(images_dir)
    return _write_sleap(collect_dataset(project), Path(out_path), images, progress or _quiet)


def write_dataset(
    project: Project,
    fmt: str,
    out_dir: str | Path,
    *,
    scorer: str = DEFAULT_SCORER,
    progress: ProgressFn | None = None,
) -> tuple[Path, int]:
    """Write the dataset in ``fmt`` into the folder ``out_dir``, images included.

    Returns (the main file written, number of frames). COCO writes ``annotations.json``,
    SLEAP ``labels.slp``, both next to ``labeled-data/``.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    root = Path(out_dir)
    report_ = progress or _quiet
    dataset = collect_dataset(project)
    if fmt == "dlc":
        path = _write_dlc(project, dataset, root, scorer, report_)
    elif fmt == "coco":
        path = _write_coco(project, dataset, root / "annotations.json", root, report_)
    else:
        path = _write_sleap(dataset, root / "labels.slp", root, report_)
    return path, dataset.frames.n_frames


def export_dir(project: Project) -> str:
    """The storage folder of a project's zipped exports."""
    return f"projects/{project.pk}/exports"


def build_export(
    project: Project,
    fmt: str,
    *,
    scorer: str = DEFAULT_SCORER,
    progress: ProgressFn | None = None,
) -> ExportResult:
    """Write the dataset, zip it (one top folder) and store the zip in media storage.

    Built in a temporary folder and streamed into storage, so neither the dataset nor the
    zip is ever held in memory whole.
    """
    report_ = progress or _quiet
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    top = f"{_task_name(project)}-{fmt}-{stamp}"
    with tempfile.TemporaryDirectory(prefix="poseloop-export-") as tmp:
        folder = Path(tmp) / top
        _, n_frames = write_dataset(project, fmt, folder, scorer=scorer, progress=report_)
        archive = Path(tmp) / f"{top}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    kind = (
                        zipfile.ZIP_STORED
                        if path.suffix.lower() in _STORED_SUFFIXES
                        else zipfile.ZIP_DEFLATED
                    )
                    zf.write(path, path.relative_to(tmp).as_posix(), compress_type=kind)
        report_(0.95, "zipped")
        name = f"{top}-{secrets.token_hex(4)}.zip"
        with archive.open("rb") as fh:
            stored = default_storage.save(f"{export_dir(project)}/{name}", File(fh, name=name))
        size = archive.stat().st_size
    return ExportResult(PurePosixPath(stored).name, stored, fmt, n_frames, size)


def export_path(project: Project, name: str) -> str | None:
    """The storage name of the project's export ``name``, or None if there is none."""
    if not EXPORT_NAME.match(name):
        return None
    storage_name = f"{export_dir(project)}/{name}"
    return storage_name if default_storage.exists(storage_name) else None


def run_export_job(job_id: int) -> dict[str, Any]:
    """Build the export a Job describes (params: format, scorer); progress on the Job.

    The job's result is the ExportResult as a dict. ``jobs.progress.running`` claims the job
    with a conditional UPDATE, so a job is never built twice.
    """
    with running(job_id) as job:
        result = build_export(
            job.project,
            job.params["format"],
            scorer=job.params.get("scorer") or DEFAULT_SCORER,
            progress=lambda fraction, message: report(job_id, fraction, message),
        )
        job.result = result.as_dict()
    return job.result


def export_dataset(project: Project, fmt: str, scorer: str = DEFAULT_SCORER,
                   user_id: int | None = None) -> tuple[Job, str | None]:
    """Record an export Job and build it now (seconds for a few hundred frames).

    Returns the Job (refreshed) and None, or, when the labels cannot be written in that
    format (the job then failed), the Job and the reason.
    """
    job = create_job(project.pk, JobKind.EXPORT, params={"format": fmt, "scorer": scorer},
                     user_id=user_id)
    error = None
    try:
        run_export_job(job.pk)
    except FormatError as exc:
        error = str(exc)
    job.refresh_from_db()
    return job, error

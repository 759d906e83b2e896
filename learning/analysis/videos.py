"""Analysing a video with a model version into DeepLabCut pose tables.

A job covers the whole video; its frame ranges (chunks, multiples of the batch size and of the
tracking keyframe interval, so that chunked and one-pass results are identical) can run in
separate worker processes. By default (`tracking`) the network runs on a window around the
animal wherever that is trusted to give the whole frame's result (`engine.tracking`). Each chunk
saves its poses as a hidden part file; the merge concatenates them in frame order and publishes
the result folder ``projects/<pid>/analyses/<video id>-<stem>-v<iteration>/``:

- ``<stem><scorer>.h5`` / ``.csv``: the DeepLabCut pose table (scorer ``PoseLoop_<project>_v<n>``),
- ``<stem><scorer>_filtered.h5`` / ``.csv`` (optional): running median, then pcutoff -> NaN,
- ``<stem><scorer>_plain.csv`` / ``.parquet``: the same poses (filtered ones when filtering is
  on) as plain tables for spreadsheets and data frames: CSV one row per frame
  (``frame, <part>_x, <part>_y, <part>_likelihood``), Parquet one row per frame and body part
  (``frame, bodypart, x, y, likelihood``),
- ``<stem><scorer>_labeled.mp4`` (optional): the video with the points drawn,
- ``manifest.json``: which job wrote the folder, its files and parameters.

A partial result is never offered: everything is written in a temporary folder that is renamed
into place when complete (remote storage: files first, the manifest last), and only files listed
in a manifest whose job id matches a succeeded job can be listed or downloaded.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from jobs.dispatch import dispatch_on_commit
from jobs.models import Job, JobKind, JobStatus
from jobs.progress import JobCancelled, create_job
from learning.analysis.multi import (
    Tracks,
    edited,
    swaps_of,
    track_animals,
    track_summary,
    write_multi_files,
)
from learning.engine.backends import analysis_runner
from learning.engine.export import Runner
from learning.engine.multi.video import analyze_video_animals
from learning.engine.tracking import TrackingConfig, analyze_video_tracked
from learning.engine.video import analyze_video
from learning.formats.pose_table import (
    apply_pcutoff,
    median_filter,
    write_plain_table,
    write_pose_table,
)
from learning.models import ModelVersion, VersionStatus
from learning.training.distill import analysis_default
from learning.training.registry import is_multi_animal, loaded_model, loaded_predictor
from projects.models import Project
from videos.files import local_video_path
from videos.models import Video

logger = logging.getLogger(__name__)
# Float runners per model version, kept by each worker process: the chunks of one analysis
# (and the next analysis with the same model) skip the ONNX export. Versions never change.
RUNNER_CACHE_SIZE = 2
_runners: OrderedDict[tuple[int, str], tuple[Runner, Any]] = OrderedDict()
_runners_lock = threading.Lock()

DEFAULT_BATCH = 16
DEFAULT_CHUNK_FRAMES = 2048
DEFAULT_PCUTOFF = 0.6
DEFAULT_MEDIAN_WINDOW = 5
MANIFEST = "manifest.json"
ProgressFn = Callable[[int, int], None]


class AnalysisOptions(TypedDict, total=False):
    """What a user may choose; missing keys take the defaults above."""

    batch_size: int
    chunk_frames: int
    filtered: bool
    median_window: int
    pcutoff: float
    labeled_video: bool
    tracking: bool
    int8: bool


class Manifest(TypedDict):
    """``manifest.json`` of a published analysis (also the Job's result)."""

    job_id: int
    video_id: int
    version_id: int
    iteration: int
    scorer: str
    bodyparts: list[str]
    frames: int
    folder: str
    files: list[str]
    pose_table: str
    params: dict[str, Any]
    seconds: float
    created_at: str
    # Multi-animal analyses: the track names (the table's individuals), per-track figures,
    # and how many identity fixes the tables include.
    individuals: NotRequired[list[str]]
    track_summary: NotRequired[dict[str, Any]]
    track_edits: NotRequired[int]


# ---------------------------------------------------------------------------- naming


def _safe(text: str, keep: str = "") -> str:
    return re.sub(rf"[^A-Za-z0-9{re.escape(keep)}]+", "", text)


def scorer_name(project: Project, version: ModelVersion) -> str:
    """DeepLabCut-style scorer: ``PoseLoop_<project name, alphanumerics only>_v<iteration>``."""
    return f"PoseLoop_{_safe(project.name) or project.pk}_v{version.iteration}"


def video_stem(video: Video) -> str:
    return _safe(Path(video.name).stem, "-_") or f"video{video.pk}"


def analysis_folder(video: Video, version: ModelVersion) -> str:
    """Storage name of the result folder of `video` analysed by `version`."""
    name = f"{video.pk}-{video_stem(video)}-v{version.iteration}"
    return f"projects/{video.project_id}/analyses/{name}"


def _parts_folder(job: Job) -> str:
    return f"projects/{job.project_id}/analyses/.parts/job-{job.pk}"


def keyframe_interval() -> int:
    """Tracked analysis runs every this many frames (counted from frame 0) on the whole frame
    (settings.ANALYSIS_KEYFRAME_INTERVAL); chunk starts are keyframes, so chunked and one-pass
    tracked analyses are identical."""
    return int(settings.ANALYSIS_KEYFRAME_INTERVAL)


def chunk_size(chunk_frames: int, batch_size: int) -> int:
    """Frames per chunk: `chunk_frames` rounded up to a multiple of the batch size and of the
    keyframe interval."""
    if batch_size < 1 or chunk_frames < 1:
        raise ValueError("batch_size and chunk_frames must be >= 1")
    unit = math.lcm(batch_size, keyframe_interval())
    return -(-chunk_frames // unit) * unit


def plan_chunks(frame_count: int, chunk_frames: int, batch_size: int) -> list[tuple[int, int]]:
    """Frame ranges [start, stop) covering the video, each `chunk_size` long, so the chunks'
    batches (and keyframes) are exactly those of a single pass."""
    size = chunk_size(chunk_frames, batch_size)
    return [(s, min(s + size, frame_count)) for s in range(0, max(frame_count, 1), size)]


# ---------------------------------------------------------------------------- starting


def resolve_version(project: Project, version_id: int | None) -> ModelVersion:
    """The given ready version of the project, or its default for analysis (the current
    model, or its fast student within the project's tolerance: `distill.analysis_default`);
    ValidationError otherwise."""
    if version_id is None:
        version = analysis_default(project)
        if version is None:
            raise ValidationError({"version": "The project has no current model; train one."})
    else:
        version = ModelVersion.objects.filter(project=project, pk=version_id).first()
        if version is None:
            raise ValidationError({"version": f"No model {version_id} in this project."})
    if version.status != VersionStatus.READY or not version.checkpoint:
        raise ValidationError({"version": f"Model {version.iteration} is not ready."})
    return version


def analysis_params(
    video: Video, version: ModelVersion, options: AnalysisOptions | None = None
) -> dict[str, Any]:
    """The job parameters: options with defaults filled in and validated."""
    opts = dict(options or {})
    params: dict[str, Any] = {
        "video_id": video.pk,
        "version_id": version.pk,
        "batch_size": int(opts.pop("batch_size", DEFAULT_BATCH)),
        "chunk_frames": int(opts.pop("chunk_frames", DEFAULT_CHUNK_FRAMES)),
        "filtered": bool(opts.pop("filtered", True)),
        "median_window": int(opts.pop("median_window", DEFAULT_MEDIAN_WINDOW)),
        "pcutoff": float(opts.pop("pcutoff", DEFAULT_PCUTOFF)),
        "labeled_video": bool(opts.pop("labeled_video", False)),
        "tracking": bool(opts.pop("tracking", True)),
        "int8": bool(opts.pop("int8", False)),
    }
    if opts:
        raise ValidationError({"options": f"Unknown options {sorted(opts)}."})
    if not 1 <= params["batch_size"] <= 256 or params["chunk_frames"] < 1:
        raise ValidationError({"batch_size": "batch_size must be 1..256, chunk_frames >= 1."})
    if params["median_window"] < 1 or params["median_window"] % 2 == 0:
        raise ValidationError({"median_window": "Must be a positive odd number."})
    if not 0.0 <= params["pcutoff"] <= 1.0:
        raise ValidationError({"pcutoff": "Must lie in [0, 1]."})
    return params


def create_analysis_job(
    video: Video,
    version: ModelVersion | None = None,
    options: AnalysisOptions | None = None,
    user: AbstractBaseUser | None = None,
) -> Job:
    """A queued analysis job (nothing is sent to a worker)."""
    version = version or resolve_version(video.project, None)
    params = analysis_params(video, version, options)
    return create_job(video.project_id, JobKind.ANALYZE, params=params,
                      user_id=getattr(user, "pk", None))


def start_analysis(
    video: Video,
    version: ModelVersion | None = None,
    options: AnalysisOptions | None = None,
    user: AbstractBaseUser | None = None,
) -> Job:
    """Queue an analysis job; the task is sent once the job row is committed."""
    job = create_analysis_job(video, version, options, user)
    dispatch_on_commit(job)
    return job


# ---------------------------------------------------------------------------- job state


def claim(job_id: int) -> Job:
    """QUEUED -> RUNNING with a conditional UPDATE (a redelivered message is not run twice)."""
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), progress=0.0,
        message="Starting", updated_at=timezone.now(),
    )
    if not claimed:
        raise JobCancelled(f"job {job_id} is not queued (already taken or finished)")
    return Job.objects.get(pk=job_id)


def _check_running(job_id: int) -> None:
    job = Job.objects.filter(pk=job_id).values("status", "cancel_requested").first()
    if job is None or job["status"] != JobStatus.RUNNING:
        raise JobCancelled(f"job {job_id} is no longer running")
    if job["cancel_requested"]:
        raise JobCancelled(f"job {job_id} cancelled")


def add_progress(job_id: int, frames: int, total: int) -> None:
    """Add `frames` done to the job (an atomic F() increment, so parallel chunks can report);
    raises JobCancelled if the job was cancelled or failed meanwhile."""
    if frames > 0 and total > 0:
        Job.objects.filter(pk=job_id).update(
            progress=F("progress") + frames / total * 0.98, updated_at=timezone.now()
        )
        progress = Job.objects.filter(pk=job_id).values_list("progress", flat=True).first() or 0
        done = min(total, round(progress / 0.98 * total))
        Job.objects.filter(pk=job_id).update(message=f"{done} / {total} frames")
    _check_running(job_id)


def fail(job_id: int, exc: BaseException) -> None:
    """Mark a running (or queued) job failed or cancelled, and drop its chunk parts."""
    status = JobStatus.CANCELLED if isinstance(exc, JobCancelled) else JobStatus.FAILED
    Job.objects.filter(pk=job_id, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).update(
        status=status, finished_at=timezone.now(),
        message=("Cancelled" if status == JobStatus.CANCELLED else str(exc)[:300]) or "failed",
        error="" if status == JobStatus.CANCELLED else traceback.format_exc(),
    )
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        _delete_folder(_parts_folder(job))


def _succeed(job_id: int, result: Manifest) -> None:
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), progress=1.0,
        message=f"{result['frames']} frames", result=result, updated_at=timezone.now(),
    )


# ---------------------------------------------------------------------------- work


def _load(job: Job) -> tuple[Video, ModelVersion, list[str]]:
    video = Video.objects.select_related("project").get(pk=job.params["video_id"])
    version = ModelVersion.objects.get(pk=job.params["version_id"])
    bodyparts = list(video.project.bodyparts.order_by("order").values_list("name", flat=True))
    return video, version, bodyparts


def make_runner(version: ModelVersion, *, int8_video: str | None = None
                ) -> tuple[Runner, Any]:
    """The version's network and config on this machine's analysis runner
    (`engine.backends.analysis_runner`: the GPU where CUDA is present, else ONNX Runtime);
    `int8_video` (CPU only, opt-in) quantises its backbone on frames of that video.

    Float runners are cached per version in this process (RUNNER_CACHE_SIZE); int8 ones are
    calibrated on each chunk's video file and built every time."""
    if int8_video is not None:
        return _build_runner(version, int8_video)
    key = (version.pk, version.created_at.isoformat())  # ids alone may be reused (SQLite)
    with _runners_lock:
        if key in _runners:
            _runners.move_to_end(key)
            return _runners[key]
    built = _build_runner(version, None)
    with _runners_lock:
        _runners[key] = built
        while len(_runners) > RUNNER_CACHE_SIZE:
            _runners.popitem(last=False)
    return built


def _build_runner(version: ModelVersion, int8_video: str | None) -> tuple[Runner, Any]:
    model, cfg = loaded_model(version)
    return analysis_runner(model, cfg, int8_video=int8_video, name=f"model {version.pk}"), cfg


def analyze_chunk(
    job_id: int, start: int, stop: int | None, progress: ProgressFn | None = None
) -> str:
    """Analyse frames [start, stop) (stop None: to the end) and save them as a part file.

    Returns the part's storage name. Progress goes to the Job (and to `progress(done, total)`).
    """
    _check_running(job_id)
    job = Job.objects.get(pk=job_id)
    video, version, bodyparts = _load(job)
    total = video.frame_count
    reported = 0

    def on_batch(done: int, _: int | None) -> None:
        nonlocal reported
        add_progress(job_id, done - reported, total)
        reported = done
        if progress is not None:
            progress(done, total)

    batch_size = int(job.params["batch_size"])
    with local_video_path(video) as path:
        if is_multi_animal(version):
            # Every animal of every frame, untracked: the merge tracks the whole video.
            poses = analyze_video_animals(
                path, loaded_predictor(version), len(bodyparts), video.project.max_animals,
                width=video.width, height=video.height, start=start, stop=stop,
                batch_size=batch_size, progress=on_batch)
        else:
            poses = _analyze_one_animal(job, job_id, version, path, len(bodyparts), start, stop,
                                        batch_size, on_batch)
    _check_running(job_id)  # a sibling chunk failed: do not leave a part behind
    buffer = io.BytesIO()
    np.save(buffer, poses, allow_pickle=False)
    name = f"{_parts_folder(job)}/{start:09d}.npy"
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def _analyze_one_animal(job: Job, job_id: int, version: ModelVersion, path: Path,
                        n_bodyparts: int, start: int, stop: int | None, batch_size: int,
                        on_batch: Callable[[int, int | None], None]) -> np.ndarray:
    runner, cfg = make_runner(version, int8_video=str(path) if job.params.get("int8") else None)
    if cfg.num_keypoints != n_bodyparts:
        raise ValidationError("The skeleton changed since this model was trained.")
    if job.params.get("tracking", False):
        tracking = TrackingConfig(keyframe_interval=keyframe_interval())
        poses, stats = analyze_video_tracked(
            path, runner, cfg, tracking, start=start,
            stop=stop, batch_size=batch_size, progress=on_batch)
        logger.info("job %s frames [%s, %s): %.0f%% on windows around the animal",
                    job_id, start, stop, 100 * stats.crop_share)
        return poses
    return analyze_video(path, runner, cfg, start=start, stop=stop,
                         batch_size=batch_size, progress=on_batch)


def _load_parts(job: Job, ranges: list[tuple[int, int | None]]) -> np.ndarray:
    """The chunk parts concatenated in frame order; checks they tile the video exactly."""
    arrays = []
    expected_start = 0
    for start, stop in ranges:
        name = f"{_parts_folder(job)}/{start:09d}.npy"
        if start != expected_start or not default_storage.exists(name):
            raise RuntimeError(f"chunk starting at frame {start} is missing")
        with default_storage.open(name, "rb") as fh:
            part = np.load(io.BytesIO(fh.read()), allow_pickle=False)
        if stop is not None and len(part) != stop - start:
            raise RuntimeError(f"chunk [{start}, {stop}) holds {len(part)} frames")
        arrays.append(part)
        expected_start = start + len(part)
    return np.concatenate(arrays)


def chunk_ranges(job: Job) -> list[tuple[int, int | None]]:
    """The job's chunks; the last one runs to the end of the file (whatever its real length)."""
    video = Video.objects.get(pk=job.params["video_id"])
    ranges: list[tuple[int, int | None]] = list(plan_chunks(
        video.frame_count, int(job.params["chunk_frames"]), int(job.params["batch_size"])
    ))
    ranges[-1] = (ranges[-1][0], None)
    return ranges


def merge(job_id: int) -> Manifest:
    """Concatenate the parts, write and publish the result files, finish the job."""
    _check_running(job_id)
    job = Job.objects.get(pk=job_id)
    poses = _load_parts(job, chunk_ranges(job))
    video, version, bodyparts = _load(job)
    tracks = track_animals(poses, video.project) if poses.ndim == 4 else None
    manifest = publish(job, video, version, bodyparts, poses, tracks=tracks)
    _delete_folder(_parts_folder(job))
    _succeed(job_id, manifest)
    return manifest


def run_analysis(job_id: int, progress: ProgressFn | None = None) -> Manifest:
    """The whole job in this process, chunk after chunk (CLI; workers without a result backend)."""
    job = claim(job_id)  # JobCancelled here: another worker has it; leave its state alone
    try:
        for start, stop in chunk_ranges(job):
            analyze_chunk(job_id, start, stop, progress=_offset(progress, start))
        return merge(job_id)
    except BaseException as exc:
        fail(job_id, exc)
        raise


def _offset(progress: ProgressFn | None, start: int) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda done, total: progress(start + done, total)


# ---------------------------------------------------------------------------- publishing


def _write_files(
    folder: Path, job: Job, video: Video, version: ModelVersion, bodyparts: list[str],
    poses: np.ndarray, tracks: Tracks | None = None,
) -> list[str]:
    params = job.params
    scorer = scorer_name(video.project, version)
    stem = video_stem(video)
    if tracks is not None:
        edges = [(e.source.name, e.target.name)
                 for e in video.project.edges.select_related("source", "target")]
        with local_video_path(video) as path:
            return write_multi_files(folder, stem, scorer, bodyparts, tracks,
                                     swaps_of(video, job.pk), str(path), edges)
    h5, csv = write_pose_table(folder / f"{stem}{scorer}", scorer, bodyparts, poses)
    files = [h5.name, csv.name]
    plain = poses
    if params.get("filtered"):
        plain = apply_pcutoff(median_filter(poses, int(params["median_window"])),
                              float(params["pcutoff"]))
        fh5, fcsv = write_pose_table(folder / f"{stem}{scorer}_filtered", scorer, bodyparts,
                                     plain)
        files += [fh5.name, fcsv.name]
    files += [write_plain_table(folder / f"{stem}{scorer}_plain{suffix}", bodyparts, plain).name
              for suffix in (".csv", ".parquet")]
    if params.get("labeled_video"):
        from learning.analysis.labeled_video import render_for_video

        out = folder / f"{stem}{scorer}_labeled.mp4"
        render_for_video(video, poses, out, pcutoff=float(params["pcutoff"]))
        files.append(out.name)
    return files


def publish(
    job: Job, video: Video, version: ModelVersion, bodyparts: list[str], poses: np.ndarray,
    tracks: Tracks | None = None,
) -> Manifest:
    """Write all result files in a temporary folder, then put them in place in one step.

    With `tracks` (a multi-animal analysis) the tables hold the tracks, with the analysis'
    identity fixes applied; the manifest lists the track names as `individuals`."""
    started = job.started_at or timezone.now()
    target = analysis_folder(video, version)
    with tempfile.TemporaryDirectory(prefix="poseloop-analysis-") as tmp:
        folder = Path(tmp)
        files = _write_files(folder, job, video, version, bodyparts, poses, tracks)
        manifest: Manifest = {
            "job_id": job.pk,
            "video_id": video.pk,
            "version_id": version.pk,
            "iteration": version.iteration,
            "scorer": scorer_name(video.project, version),
            "bodyparts": bodyparts,
            "frames": int(len(poses)),
            "folder": target,
            "files": files,
            "pose_table": files[0],
            "params": dict(job.params),
            "seconds": round((timezone.now() - started).total_seconds(), 3),
            "created_at": timezone.now().isoformat(),
        }
        if tracks is not None:
            manifest["individuals"] = list(tracks.names)
            manifest["track_summary"] = track_summary(edited(tracks, swaps_of(video, job.pk)))
            manifest["track_edits"] = len(swaps_of(video, job.pk))
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _publish_folder(folder, files, target)
    return manifest


def _local_path(name: str) -> Path | None:
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        return None


def _publish_folder(folder: Path, files: list[str], target: str) -> None:
    """Local storage: copy into a hidden sibling folder, then rename it over the target.
    Remote storage: upload the files, the manifest last (it is what makes them visible)."""
    local = _local_path(target)
    if local is None:
        _delete_folder(target)
        for name in [*files, MANIFEST]:
            with (folder / name).open("rb") as fh:
                default_storage.save(f"{target}/{name}", File(fh))
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    staging = local.with_name(f".{local.name}.partial-{secrets.token_hex(4)}")
    shutil.copytree(folder, staging)
    old = local.with_name(f".{local.name}.old-{secrets.token_hex(4)}")
    if local.exists():
        os.replace(local, old)
    os.replace(staging, local)
    shutil.rmtree(old, ignore_errors=True)


def _delete_folder(name: str) -> None:
    local = _local_path(name)
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)
        return
    try:
        _, files = default_storage.listdir(name)
    except (FileNotFoundError, OSError):
        return
    for f in files:
        default_storage.delete(f"{name}/{f}")


# ---------------------------------------------------------------------------- reading


def read_manifest(folder: str) -> Manifest | None:
    name = f"{folder}/{MANIFEST}"
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as fh:
        return json.loads(fh.read())


def list_analyses(video: Video) -> list[Manifest]:
    """Published analyses of the video, newest first (superseded or partial ones are left out)."""
    jobs = Job.objects.filter(
        project_id=video.project_id, kind=JobKind.ANALYZE, status=JobStatus.SUCCEEDED,
        params__video_id=video.pk,
    ).order_by("-finished_at")
    found = []
    for job in jobs:
        manifest = analysis_of(video, job.pk)
        if manifest is not None:
            found.append(manifest)
    return found


def analysis_of(video: Video, analysis_id: int) -> Manifest | None:
    """The manifest of analysis (= job) `analysis_id` of the video if it is still published."""
    job = Job.objects.filter(
        pk=analysis_id, project_id=video.project_id, kind=JobKind.ANALYZE,
        status=JobStatus.SUCCEEDED, params__video_id=video.pk,
    ).first()
    if job is None or not job.result.get("folder"):
        return None
    manifest = read_manifest(job.result["folder"])
    if manifest is None or manifest.get("job_id") != job.pk:
        return None
    return manifest


def open_result_file(video: Video, analysis_id: int, filename: str) -> File | None:
    """An open file of a published analysis, or None (unknown analysis or file name)."""
    manifest = analysis_of(video, analysis_id)
    if manifest is None or filename not in manifest["files"]:
        return None
    return default_storage.open(f"{manifest['folder']}/{filename}", "rb")


def load_poses(video: Video, analysis_id: int) -> tuple[Manifest, np.ndarray] | None:
    """(manifest, poses float64 (frames, keypoints, 3)) of a published analysis, or None."""
    from learning.formats.pose_table import read_pose_table

    manifest = analysis_of(video, analysis_id)
    if manifest is None:
        return None
    name = f"{manifest['folder']}/{manifest['pose_table']}"
    local = _local_path(name)
    if local is not None:
        return manifest, read_pose_table(local).poses
    with tempfile.TemporaryDirectory() as tmp, default_storage.open(name, "rb") as fh:
        path = Path(tmp) / manifest["pose_table"]
        path.write_bytes(fh.read())
        return manifest, read_pose_table(path).poses

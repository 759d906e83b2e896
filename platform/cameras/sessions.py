"""Multi-camera sessions: one project video per camera of a rig, 2D poses per view, and the
triangulation of those poses into a 3D pose table (a "triangulate" job in a worker).

A view's 2D poses come from an uploaded file (SLEAP ``.slp`` or a pose table: proofread or
another tool's poses) or else from the newest published analysis of its video; all analysed
views must come from the same model version so the body parts agree.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from cameras.models import Calibration, Rig, Session, SessionView, Triangulation
from cameras.rigs import calibration_cameras, calibration_toml
from cameras.storage import local_copies, save_file, write_upload
from jobs.dispatch import dispatch_on_commit
from jobs.models import Job, JobKind
from jobs.progress import create_job, report
from learning.analysis import videos as analysis
from learning.analysis.labeled_video import part_colors, render_video
from learning.formats.errors import FormatError
from learning.formats.view_poses import read_view_poses
from learning.geometry.camera import project as project_points
from learning.geometry.session import SessionError, triangulate_files
from projects.models import Project
from videos.files import local_video_path
from videos.models import Video

POSE_SUFFIXES = {".slp", ".h5", ".csv"}
TABLE_STEM = "points3d"


def create_session(project: Project, rig: Rig, name: str, views: Mapping[str, int], *,
                   offsets: Mapping[str, int] | None = None, trim: bool = False,
                   user: Any = None) -> Session:
    """A session with one video per camera of the rig.

    Frame counts after the offsets must agree; with ``trim`` the session keeps the shortest.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError("A session needs a name.")
    if rig.project_id != project.pk:
        raise ValidationError("The rig belongs to another project.")
    missing = [c for c in rig.cameras if c not in views]
    extra = [c for c in views if c not in rig.cameras]
    if missing or extra:
        raise ValidationError(
            f"A session needs one video for each camera of rig {rig.name} "
            f"({', '.join(rig.cameras)}); " + "; ".join(
                ([f"missing: {', '.join(missing)}"] if missing else [])
                + ([f"not cameras of the rig: {', '.join(extra)}"] if extra else [])) + ".")
    offsets = dict(offsets or {})
    videos: dict[str, Video] = {}
    for camera in rig.cameras:
        try:
            video_id = int(views[camera])
        except (TypeError, ValueError):
            raise ValidationError(f"{camera}: video must be a video id.") from None
        video = Video.objects.filter(pk=video_id, project=project, deleted_at__isnull=True).first()
        if video is None:
            raise ValidationError(f"{camera}: no video {video_id} in this project.")
        offset = offsets.get(camera, 0)
        if not isinstance(offset, int) or isinstance(offset, bool) or not \
                0 <= offset < video.frame_count:
            raise ValidationError(f"{camera}: offset must be a whole number of frames from 0 "
                                  f"to {video.frame_count - 1}.")
        videos[camera] = video
    if len({v.pk for v in videos.values()}) != len(videos):
        raise ValidationError("Each camera needs its own video.")
    counts = {c: v.frame_count - offsets.get(c, 0) for c, v in videos.items()}
    if len(set(counts.values())) > 1 and not trim:
        listed = ", ".join(f"{c} {n}" for c, n in counts.items())
        raise ValidationError(f"The views have different frame counts after offsets ({listed}); "
                              f"fix the offsets, or keep the shortest with trim.")
    try:
        with transaction.atomic():
            session = Session.objects.create(project=project, rig=rig, name=name,
                                             frame_count=min(counts.values()), created_by=user)
            SessionView.objects.bulk_create([
                SessionView(session=session, camera=c, video=v, offset=offsets.get(c, 0))
                for c, v in videos.items()])
    except IntegrityError:
        raise ValidationError(f"The project already has a session named {name!r}.") from None
    return session


def attach_poses(view: SessionView, upload: UploadedFile) -> SessionView:
    """Store uploaded 2D poses for a view after reading them (nothing kept if unreadable)."""
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in POSE_SUFFIXES:
        raise ValidationError(f"Poses must be a SLEAP .slp or a pose table .h5/.csv, "
                              f"not {upload.name!r}.")
    with tempfile.TemporaryDirectory() as tmp:
        local = write_upload(upload, Path(tmp) / f"poses{suffix}")
        try:
            poses = read_view_poses(local)
        except FormatError as exc:
            raise ValidationError(f"{view.camera}: {exc}") from exc
        if len(poses.points) == 0:
            raise ValidationError(f"{view.camera}: the file holds no poses.")
        old = view.poses.name
        view.poses.name = save_file(
            local, f"projects/{view.session.project_id}/sessions/{view.session_id}/"
                   f"poses-{view.camera}{suffix}")
        view.save(update_fields=["poses"])
    if old and old != view.poses.name and default_storage.exists(old):
        default_storage.delete(old)
    return view


def analyze_views(session: Session, version_id: int | None = None, user: Any = None
                  ) -> list[Job]:
    """Queue a 2D analysis of every view's video with one model (default: the project's)."""
    version = analysis.resolve_version(session.project, version_id)
    with transaction.atomic():
        return [analysis.start_analysis(view.video, version, user=user)
                for view in session.views.select_related("video")]


def pose_sources(session: Session) -> dict[str, dict[str, Any]]:
    """Per camera where triangulation would take its 2D poses from (or why it cannot)."""
    sources: dict[str, dict[str, Any]] = {}
    for view in session.views.select_related("video"):
        if view.poses:
            sources[view.camera] = {"kind": "upload", "file": view.poses.name,
                                    "label": Path(view.poses.name).name}
            continue
        found = analysis.list_analyses(view.video)
        if found:
            m = found[0]
            sources[view.camera] = {
                "kind": "analysis", "analysis_id": m["job_id"], "version_id": m["version_id"],
                "iteration": m["iteration"], "file": f"{m['folder']}/{m['pose_table']}",
                "label": f"analysis {m['job_id']} (model {m['iteration']})"}
        else:
            sources[view.camera] = {"kind": None, "label": "no poses yet"}
    return sources


def _check_sources(sources: Mapping[str, dict[str, Any]]) -> None:
    missing = [c for c, s in sources.items() if s["kind"] is None]
    if missing:
        raise ValidationError(f"No 2D poses for {', '.join(missing)}: analyse the views or "
                              f"upload their poses first.")
    versions = {s["version_id"] for s in sources.values() if s["kind"] == "analysis"}
    if len(versions) > 1:
        raise ValidationError("The views were analysed with different models; analyse all "
                              "views with one model.")


def start_triangulation(session: Session, *, smooth: float = 0.0, bones: float = 0.0,
                        videos: bool = False, user: Any = None) -> tuple[Triangulation, Job]:
    """Queue the triangulation of the session's current 2D poses with the rig's calibration."""
    calibration: Calibration | None = session.rig.current_calibration()
    if calibration is None:
        raise ValidationError(f"Rig {session.rig.name} has no ready calibration: calibrate it "
                              f"or import a calibration.toml first.")
    for name, value in (("smooth", smooth), ("bones", bones)):
        if not 0.0 <= value <= 100.0:
            raise ValidationError(f"{name} must lie in [0, 100].")
    sources = pose_sources(session)
    _check_sources(sources)
    with transaction.atomic():
        tri = Triangulation.objects.create(
            session=session, calibration=calibration, sources=sources,
            options={"smooth": smooth, "bones": bones, "videos": bool(videos)})
        job = create_job(session.project_id, JobKind.TRIANGULATE,
                         params={"triangulation_id": tri.pk, "session_id": session.pk},
                         user_id=getattr(user, "pk", None))
        tri.job = job
        tri.save(update_fields=["job"])
        dispatch_on_commit(job)
    return tri, job


def run_triangulation(triangulation_id: int, job_id: int | None = None) -> Triangulation:
    """Triangulate (in the worker): write the 3D tables and, if asked, reprojection videos."""
    tri = Triangulation.objects.select_related("session", "calibration").get(pk=triangulation_id)
    session = tri.session
    offsets = {v.camera: v.offset for v in session.views.all()}

    def progress(fraction: float, message: str) -> None:
        if job_id is not None:
            report(job_id, fraction, message)

    progress(0.05, "Reading 2D poses")
    files = {c: s["file"] for c, s in tri.sources.items()}
    with local_copies(files) as poses, tempfile.TemporaryDirectory() as tmp:
        toml = Path(tmp) / "calibration.toml"
        toml.write_bytes(calibration_toml(tri.calibration))
        out = Path(tmp) / "out"
        try:
            result = triangulate_files(
                toml, poses, out, stem=TABLE_STEM, offsets=offsets,
                smooth_weight=tri.options.get("smooth", 0.0),
                bone_weight=tri.options.get("bones", 0.0))
        except (SessionError, FormatError) as exc:
            raise ValidationError(str(exc)) from exc
        progress(0.6, "Storing the 3D tables")
        stored = [save_file(Path(f), f"{tri.folder}/{Path(f).name}") for f in result["files"]]
        frames = min(result["frames"], session.frame_count)
        Triangulation.objects.filter(pk=tri.pk).update(
            bodyparts=result["bodyparts"], frames=frames,
            reprojection_px=result["reprojection_px"], files=stored)
        tri.refresh_from_db()
        if tri.options.get("videos"):
            stored += _reprojection_videos(tri, out, progress)
            Triangulation.objects.filter(pk=tri.pk).update(files=stored)
            tri.refresh_from_db()
    progress(1.0, f"{tri.frames} frames triangulated")
    return tri


def points3d(tri: Triangulation) -> np.ndarray:
    """(frames, keypoints, 3) float64 of a finished triangulation (NaN where missing)."""
    name = next(f for f in tri.files if f.endswith(f"{TABLE_STEM}.h5"))
    with local_copies({"table": name}) as local:
        frame = pd.read_hdf(local["table"], "df_with_missing")
    values = frame.to_numpy(dtype=np.float64)
    return values.reshape(len(frame), len(tri.bodyparts), 3)


def skeleton_edges(session: Session, bodyparts: list[str]) -> list[tuple[int, int]]:
    """The project's skeleton as index pairs into `bodyparts` (edges of unknown parts dropped)."""
    index = {b: i for i, b in enumerate(bodyparts)}
    names = dict(session.project.bodyparts.values_list("pk", "name"))
    edges = []
    for a, b in session.project.edges.values_list("source_id", "target_id"):
        if names.get(a) in index and names.get(b) in index:
            edges.append((index[names[a]], index[names[b]]))
    return edges


def _reprojection_videos(tri: Triangulation, out: Path, progress: Any) -> list[str]:
    """Per camera an mp4 of its video with the 3D skeleton reprojected into it."""
    pts = points3d(tri)
    cameras = {c.name: c for c in calibration_cameras(tri.calibration)}
    edges = skeleton_edges(tri.session, tri.bodyparts)
    colors = part_colors(len(tri.bodyparts))
    stored = []
    views = list(tri.session.views.select_related("video"))
    for i, view in enumerate(views):
        cam = cameras.get(view.camera)
        if cam is None:
            continue
        flat = project_points(cam, pts.reshape(-1, 3)).reshape(len(pts), len(tri.bodyparts), 2)
        visible = np.isfinite(flat).all(axis=-1)
        poses = np.concatenate([np.nan_to_num(flat), visible[..., None].astype(float)], axis=-1)
        # session frame t is video frame t + offset: pad the front with empty poses
        padded = np.concatenate([np.zeros((view.offset, *poses.shape[1:])), poses])
        target = out / f"{view.camera}_reprojected.mp4"
        with local_video_path(view.video) as video_path:
            render_video(video_path, padded[: view.video.frame_count], target, colors, edges,
                         fps=view.video.fps, pcutoff=0.5)
        stored.append(save_file(target, f"{tri.folder}/{target.name}"))
        progress(0.7 + 0.3 * (i + 1) / len(views), f"Reprojected video of {view.camera}")
    return stored

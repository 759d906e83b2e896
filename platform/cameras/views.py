"""The 3D pages (PI): rigs and calibrations, sessions, triangulation and the 3D viewer.

Thin views over `cameras.rigs` and `cameras.sessions`; every form posts here and redirects,
and downloads, images and the viewer's points come from the access-checked API."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import PI_ONLY, get_project_for
from cameras import rigs, sessions
from cameras.models import Rig, Session
from cameras.serializers import CalibrationSerializer, TriangulationSerializer
from learning.models import ModelVersion, VersionStatus
from videos.models import Video


def _error(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


def _act(request: HttpRequest, action: Callable[[], str], bad_number: str = "") -> bool:
    """Run a service call; its success message, or its error (a ValueError from parsing a
    number: `bad_number`) as a message on the next page. True when it worked."""
    try:
        done = action()
    except ValidationError as exc:
        _error(request, exc)
        return False
    except ValueError:
        messages.error(request, bad_number)
        return False
    messages.success(request, done)
    return True


@login_required
def cameras_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    return render(request, "cameras/index.html", {
        "project": project,
        "rigs": Rig.objects.filter(project=project),
        "sessions": Session.objects.filter(project=project).select_related("rig"),
    })


@login_required
@require_POST
def create_rig_action(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    cameras = [c.strip() for c in request.POST.get("cameras", "").split(",") if c.strip()]
    try:
        rig = rigs.create_rig(project, request.POST.get("name", ""), cameras,
                              request.POST.get("board_toml", ""), user=request.user)
    except ValidationError as exc:
        _error(request, exc)
        return redirect("cameras:index", project_id=project.pk)
    messages.success(request, f"Rig {rig.name} created.")
    return redirect("cameras:rig", project_id=project.pk, rig_id=rig.pk)


@login_required
def rig_page(request: HttpRequest, project_id: int, rig_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    rig = get_object_or_404(Rig, pk=rig_id, project=project)
    return render(request, "cameras/rig.html", {
        "project": project, "rig": rig, "board_toml": rigs.board_toml(rig),
        "calibrations": CalibrationSerializer(rig.calibrations.all()[:5], many=True).data,
        "current": rig.current_calibration(),
        "videos": Video.objects.filter(project=project, deleted_at__isnull=True).order_by("name"),
    })


@login_required
@require_POST
def rig_board_action(request: HttpRequest, project_id: int, rig_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    rig = get_object_or_404(Rig, pk=rig_id, project=project)
    try:
        rig.board = rigs.parse_board(request.POST.get("board_toml", ""))
    except ValidationError as exc:
        _error(request, exc)
    else:
        rig.save(update_fields=["board"])
        messages.success(request, "Board saved.")
    return redirect("cameras:rig", project_id=project.pk, rig_id=rig.pk)


@login_required
@require_POST
def calibrate_action(request: HttpRequest, project_id: int, rig_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    rig = get_object_or_404(Rig, pk=rig_id, project=project)
    videos = {c: request.FILES[f"video-{c}"] for c in rig.cameras if f"video-{c}" in request.FILES}

    def calibrate() -> str:
        offsets = {c: int(request.POST.get(f"offset-{c}") or 0) for c in rig.cameras}
        _, job = rigs.start_calibration(rig, videos, offsets=offsets, user=request.user)
        return f"Calibration queued (job {job.pk}); progress below."

    _act(request, calibrate, "Offsets must be whole numbers of frames.")
    return redirect("cameras:rig", project_id=project.pk, rig_id=rig.pk)


@login_required
@require_POST
def import_calibration_action(request: HttpRequest, project_id: int, rig_id: int
                              ) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    rig = get_object_or_404(Rig, pk=rig_id, project=project)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a calibration.toml file.")
    else:
        def import_file() -> str:
            rigs.import_calibration(rig, upload, request.user)
            return "Calibration imported."

        _act(request, import_file)
    return redirect("cameras:rig", project_id=project.pk, rig_id=rig.pk)


@login_required
@require_POST
def create_session_action(request: HttpRequest, project_id: int, rig_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    rig = get_object_or_404(Rig, pk=rig_id, project=project)
    try:
        views = {c: int(request.POST.get(f"view-{c}") or 0) for c in rig.cameras}
        offsets = {c: int(request.POST.get(f"offset-{c}") or 0) for c in rig.cameras}
        session = sessions.create_session(project, rig, request.POST.get("name", ""), views,
                                          offsets=offsets, trim=request.POST.get("trim") == "on",
                                          user=request.user)
    except ValueError:
        messages.error(request, "Choose a video for every camera; offsets are whole numbers.")
    except ValidationError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Session {session.name} created.")
        return redirect("cameras:session", project_id=project.pk, session_id=session.pk)
    return redirect("cameras:rig", project_id=project.pk, rig_id=rig.pk)


@login_required
def session_page(request: HttpRequest, project_id: int, session_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    session = get_object_or_404(Session.objects.select_related("rig"), pk=session_id,
                                project=project)
    triangulations = TriangulationSerializer(
        session.triangulations.select_related("job", "session")[:5], many=True).data
    latest = next((t for t in triangulations if t["points_url"]), None)
    sources = sessions.pose_sources(session)
    return render(request, "cameras/session.html", {
        "project": project, "session": session,
        "rows": [(view, sources.get(view.camera, {}))
                 for view in session.views.select_related("video")],
        "calibration": session.rig.current_calibration(),
        "versions": ModelVersion.objects.filter(project=project, status=VersionStatus.READY)
        .exclude(checkpoint="").order_by("-iteration"),
        "triangulations": triangulations,
        "viewer": ({"points_url": latest["points_url"], "frames": latest["frames"]}
                   if latest else None),
    })


@login_required
@require_POST
def upload_poses_action(request: HttpRequest, project_id: int, session_id: int,
                        camera: str) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    session = get_object_or_404(Session, pk=session_id, project=project)
    view = get_object_or_404(session.views, camera=camera)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a poses file.")
    else:
        def attach() -> str:
            sessions.attach_poses(view, upload)
            return f"Poses of {camera} saved."

        _act(request, attach)
    return redirect("cameras:session", project_id=project.pk, session_id=session.pk)


@login_required
@require_POST
def analyze_views_action(request: HttpRequest, project_id: int, session_id: int
                         ) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    session = get_object_or_404(Session, pk=session_id, project=project)
    def analyze() -> str:
        raw = request.POST.get("version") or None
        jobs = sessions.analyze_views(session, int(raw) if raw else None, request.user)
        return f"{len(jobs)} view analyses queued; progress below."

    _act(request, analyze, "Choose a model from the list.")
    return redirect("cameras:session", project_id=project.pk, session_id=session.pk)


@login_required
@require_POST
def triangulate_action(request: HttpRequest, project_id: int, session_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    session = get_object_or_404(Session.objects.select_related("rig"), pk=session_id,
                                project=project)
    def triangulate() -> str:
        _, job = sessions.start_triangulation(
            session, smooth=float(request.POST.get("smooth") or 0),
            bones=float(request.POST.get("bones") or 0),
            videos=request.POST.get("videos") == "on", user=request.user)
        return f"Triangulation queued (job {job.pk}); progress below."

    _act(request, triangulate, "Smoothing and bone weights are numbers.")
    return redirect("cameras:session", project_id=project.pk, session_id=session.pk)

"""The "Analysis & exports" page (PI): analyse videos, download pose tables, export models and
labeled datasets. Thin views over `learning.analysis.videos` and `learning.exchange.exporting`;
downloads go through the access-checked, streamed API endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.access import PI_ONLY, get_project_for
from jobs.models import Job, JobKind, JobStatus
from learning.analysis import videos as analysis
from learning.analysis.track_edits import swap_tracks
from learning.exchange.exporting import DEFAULT_SCORER, FORMATS, export_dataset
from learning.models import ModelVersion, VersionStatus
from learning.training import registry
from learning.training.distill import analysis_default
from videos.models import Video

ANALYSES_SHOWN = 3


def _analyses(project_id: int, video: Video) -> list[dict[str, Any]]:
    """The video's newest published analyses, each with its files' download URLs."""
    shown = []
    for manifest in analysis.list_analyses(video)[:ANALYSES_SHOWN]:
        files = [(name, reverse("api:video-analysis-download", kwargs={
            "project_id": project_id, "video_id": video.pk,
            "analysis_id": manifest["job_id"], "filename": name}))
            for name in manifest["files"]]
        preview = reverse("api:video-analysis-frame", kwargs={
            "project_id": project_id, "video_id": video.pk,
            "analysis_id": manifest["job_id"], "index": 0})
        swap = reverse("learning:swap-tracks", kwargs={
            "project_id": project_id, "video_id": video.pk, "analysis_id": manifest["job_id"]})
        shown.append({"manifest": manifest, "files": files, "preview": preview, "swap": swap,
                      "tracks": manifest.get("track_summary", {}).get("tracks", [])})
    return shown


def _dataset_exports(project_id: int) -> list[dict[str, Any]]:
    jobs = Job.objects.filter(project_id=project_id, kind=JobKind.EXPORT,
                              status=JobStatus.SUCCEEDED)[:5]
    return [{"job": job, "name": job.result.get("name"),
             "url": reverse("api:dataset-export-download",
                            kwargs={"project_id": project_id, "name": job.result["name"]})}
            for job in jobs if job.result.get("name")]


@login_required
def analysis_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    videos = Video.objects.filter(project=project, deleted_at__isnull=True).order_by("name")
    return render(request, "learning/analysis.html", {
        "project": project,
        "videos": [{"video": v, "analyses": _analyses(project.pk, v)} for v in videos],
        "versions": ModelVersion.objects.filter(
            project=project, status=VersionStatus.READY).exclude(checkpoint="")
        .order_by("-iteration"),
        "current": registry.current_version(project),
        "default": analysis_default(project),
        "formats": FORMATS,
        "default_scorer": DEFAULT_SCORER,
        "exports": _dataset_exports(project.pk),
    })


@login_required
@require_POST
def analyze_action(request: HttpRequest, project_id: int, video_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    video = get_object_or_404(Video, pk=video_id, project=project, deleted_at__isnull=True)
    options = {"tracking": request.POST.get("tracking") == "on",
               "int8": request.POST.get("int8") == "on",
               "labeled_video": request.POST.get("labeled_video") == "on"}
    raw_version = request.POST.get("version") or None
    try:
        version_id = int(raw_version) if raw_version else None
        version = analysis.resolve_version(project, version_id)
        job = analysis.start_analysis(video, version, options, user=request.user)
    except ValueError:
        messages.error(request, "Choose a model from the list.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Analysis of {video.name} with model {version.iteration} "
                                  f"queued (job {job.pk}); progress below.")
    return redirect("learning:analysis", project_id=project.pk)


@login_required
@require_POST
def swap_tracks_action(request: HttpRequest, project_id: int, video_id: int,
                       analysis_id: int) -> HttpResponse:
    """Fix an identity swap of a multi-animal analysis: tracks A and B from frame t on."""
    project = get_project_for(request.user, project_id, PI_ONLY)
    video = get_object_or_404(Video, pk=video_id, project=project, deleted_at__isnull=True)
    try:
        frame = int(request.POST.get("frame", ""))
        swap, _ = swap_tracks(video, analysis_id, frame, request.POST.get("track_a", ""),
                              request.POST.get("track_b", ""), request.user)
    except ValueError:
        messages.error(request, "The frame must be a whole number.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Tracks {swap.track_a} and {swap.track_b} swapped from frame "
                                  f"{swap.frame} on; the tables of analysis {analysis_id} were "
                                  "written again.")
    return redirect("learning:analysis", project_id=project.pk)


@login_required
@require_POST
def dataset_export_action(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    fmt = request.POST.get("format", "")
    if fmt not in FORMATS:
        messages.error(request, f"Choose a format: {', '.join(FORMATS)}.")
        return redirect("learning:analysis", project_id=project.pk)
    job, error = export_dataset(project, fmt, DEFAULT_SCORER, request.user.pk)
    if error is not None:
        messages.error(request, f"Export failed: {error}")
    else:
        messages.success(request, f"Dataset exported as {job.result.get('name')}.")
    return redirect("learning:analysis", project_id=project.pk)

"""Zoo pages: the list with filters and the import form, an entry's page with its actions,
and the models page's "Publish to zoo" action (plain forms; errors come back as messages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import visible_projects
from accounts.models import Role
from learning.models import ModelVersion
from learning.zoo import adopt as adoption
from learning.zoo import bundle, entries
from learning.zoo.models import Visibility
from videos.models import Video


def _pi_projects(request: HttpRequest) -> Any:
    projects = visible_projects(request.user)
    if not request.user.is_staff:
        projects = projects.filter(memberships__user=request.user,
                                   memberships__role=Role.PI)
    return projects.order_by("name")


def _attempt(request: HttpRequest, action: Callable[[], str], failure_to: str) -> HttpResponse:
    """Run `action` (returns where to go); errors become a message and go to `failure_to`."""
    try:
        return redirect(action())
    except ValidationError as exc:
        text = "; ".join(" ".join(v) for v in exc.message_dict.values()) \
            if hasattr(exc, "error_dict") else " ".join(exc.messages)
        messages.error(request, text)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or "Not allowed.")
    return redirect(failure_to)


@login_required
def zoo_page(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in ("q", "species", "view", "bodypart")}
    found = entries.filter_entries(
        entries.visible_entries(request.user).select_related("published_by"), **filters)
    return render(request, "learning/zoo.html", {
        "entries": found, "filters": filters, "may_import": bundle.may_import(request.user),
        "visibilities": Visibility.choices})


@login_required
def entry_page(request: HttpRequest, zoo_id: int) -> HttpResponse:
    entry = entries.get_visible(request.user, zoo_id)
    projects = list(_pi_projects(request))
    videos = (Video.objects.filter(project__in=projects).select_related("project")
              .order_by("project__name", "name"))
    return render(request, "learning/zoo_entry.html", {
        "entry": entry, "projects": projects, "videos": videos,
        "can_manage": entries.can_manage(request.user, entry)})


@login_required
@require_POST
def import_action(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("bundle")
    if upload is None:
        messages.error(request, "Choose a bundle file (.zip) to import.")
        return redirect("zoo:list")

    def run() -> str:
        entry = bundle.import_bundle(upload, request.user,
                                     visibility=request.POST.get("visibility", Visibility.SITE))
        messages.success(request, f"Imported “{entry.name}”.")
        return f"/zoo/{entry.pk}/"

    return _attempt(request, run, "/zoo/")


@login_required
@require_POST
def publish_action(request: HttpRequest) -> HttpResponse:
    version = get_object_or_404(ModelVersion, pk=request.POST.get("version") or 0,
                                project__in=visible_projects(request.user))

    def run() -> str:
        entry = entries.publish(
            version, request.user, name=request.POST.get("name", ""),
            species=request.POST.get("species", ""),
            camera_view=request.POST.get("camera_view", ""),
            licence=request.POST.get("licence", ""), notes=request.POST.get("notes", ""),
            visibility=request.POST.get("visibility", Visibility.SITE))
        messages.success(request, f"Published “{entry.name}” to the zoo.")
        return f"/zoo/{entry.pk}/"

    return _attempt(request, run,
                    f"/projects/{version.project_id}/models/?publish={version.pk}#zoo-publish")


@login_required
@require_POST
def adopt_action(request: HttpRequest, zoo_id: int) -> HttpResponse:
    entry = entries.get_visible(request.user, zoo_id)
    back = f"/zoo/{entry.pk}/"

    def run() -> str:
        project = _pi_projects(request).filter(pk=request.POST.get("project") or 0).first()
        if project is None:
            raise ValidationError({"project": "Choose a project where you are PI."})
        version = adoption.adopt(project, request.user, entry)
        messages.success(request, version.message)
        return f"/projects/{project.pk}/models/"

    return _attempt(request, run, back)


@login_required
@require_POST
def start_project_action(request: HttpRequest, zoo_id: int) -> HttpResponse:
    entry = entries.get_visible(request.user, zoo_id)

    def run() -> str:
        project, _ = adoption.start_project(entry, request.user, request.POST.get("name", ""))
        messages.success(request, f"Project {project.name} starts with “{entry.name}” as its "
                                  "model: upload videos and their queued frames come "
                                  "pre-labeled.")
        return f"/projects/{project.pk}/"

    return _attempt(request, run, f"/zoo/{entry.pk}/")


@login_required
@require_POST
def analyse_action(request: HttpRequest, zoo_id: int) -> HttpResponse:
    entry = entries.get_visible(request.user, zoo_id)

    def run() -> str:
        video = Video.objects.filter(pk=request.POST.get("video") or 0,
                                     project__in=_pi_projects(request)).first()
        if video is None:
            raise ValidationError({"video": "Choose a video of a project where you are PI."})
        adoption.analyse_with(entry, video, request.user)
        messages.success(request, f"Analysing {video.name} with “{entry.name}”.")
        return f"/projects/{video.project_id}/analysis/"

    return _attempt(request, run, f"/zoo/{entry.pk}/")


@login_required
@require_POST
def delete_action(request: HttpRequest, zoo_id: int) -> HttpResponse:
    entry = entries.get_visible(request.user, zoo_id)

    def run() -> str:
        entries.delete_entry(request.user, entry)
        messages.success(request, f"Deleted “{entry.name}” from the zoo.")
        return "/zoo/"

    return _attempt(request, run, f"/zoo/{entry.pk}/")

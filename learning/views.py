"""The models page: versions, comparison, evaluation images, start/cancel training, rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import PI_ONLY, REVIEWERS, get_project_for
from accounts.models import Role
from learning.errors import Conflict
from learning.models import ModelVersion
from learning.training import distill as distillation
from learning.training import registry
from learning.training import runs as training


def _compared(request: HttpRequest, versions: list[ModelVersion]) -> list[ModelVersion]:
    by_id = {str(v.pk): v for v in versions}
    return [by_id[k] for k in (request.GET.get("a"), request.GET.get("b")) if k in by_id]


@login_required
def models_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, REVIEWERS)
    training.reap_stale(project.pk)
    versions = list(ModelVersion.objects.filter(project=project).select_related("teacher")
                    .order_by("-iteration"))
    current = registry.current_version(project)
    compared = _compared(request, versions)
    parts = project.bodypart_names()
    rows = [(name, [v.metrics.get("per_bodypart_test_rmse_px", {}).get(name) for v in compared])
            for name in parts]
    return render(request, "learning/models.html", {
        "project": project,
        "versions": versions,
        "current": current,
        "active": next((v for v in versions if v.is_active), None),
        "is_pi": project.current_role == Role.PI,
        "compared": compared,
        "part_rows": rows,
        "analysis_default": distillation.analysis_default(project),
        "students": [v for v in versions if v.is_student],
        "fast_ok": [v for v in versions if v.is_student
                    and distillation.within_tolerance(v, project)],
    })


@login_required
def version_page(request: HttpRequest, project_id: int, version_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, REVIEWERS)
    version = get_object_or_404(ModelVersion, pk=version_id, project=project)
    return render(request, "learning/version.html", {
        "project": project, "version": version,
        "is_current": registry.current_version(project) == version,
        "is_pi": project.current_role == Role.PI,
        "students": version.students.order_by("-iteration"),
        "analysis_default": distillation.analysis_default(project),
        "images": range(len(version.eval_images)),
        "parts": version.metrics.get("per_bodypart_test_rmse_px", {}).items(),
    })


@login_required
@require_POST
def train_action(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    return _queue(request, project, lambda minutes: training.start_training(
        project, user=request.user, minutes=minutes),
        lambda version: f"Training of model {version.iteration} queued.")


def _queue(request: HttpRequest, project: Any, start: Callable[[float | None], ModelVersion],
           done: Callable[[ModelVersion], str]) -> HttpResponse:
    """Queue a training or a distillation with the form's minutes; say what happened."""
    try:
        minutes = float(request.POST["minutes"]) if request.POST.get("minutes") else None
        version = start(minutes)
    except ValueError:
        messages.error(request, "Minutes must be a number.")
    except (ValidationError, Conflict) as exc:
        messages.error(request, exc.detail if isinstance(exc, Conflict) else " ".join(exc.messages))
    else:
        messages.success(request, done(version))
    return redirect("learning:models", project_id=project.pk)


@login_required
@require_POST
def distill_action(request: HttpRequest, project_id: int, version_id: int) -> HttpResponse:
    """"Make a fast model" of a ready version (PI): a student distilled from it."""
    project = get_project_for(request.user, project_id, PI_ONLY)
    teacher = get_object_or_404(ModelVersion, pk=version_id, project=project)
    return _queue(request, project, lambda minutes: distillation.start_distillation(
        teacher, user=request.user, minutes=minutes),
        lambda version: f"Fast model {version.iteration} (a student of model "
                        f"{teacher.iteration}) queued.")


@login_required
@require_POST
def cancel_action(request: HttpRequest, project_id: int, version_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    version = get_object_or_404(ModelVersion, pk=version_id, project=project)
    try:
        training.cancel_training(version)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Cancelling model {version.iteration}.")
    return redirect("learning:models", project_id=project.pk)


@login_required
@require_POST
def activate_action(request: HttpRequest, project_id: int, version_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    version = get_object_or_404(ModelVersion, pk=version_id, project=project)
    try:
        registry.activate(version)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Model {version.iteration} is now current.")
    return redirect("learning:models", project_id=project.pk)

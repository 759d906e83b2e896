"""The labeling and review pages: thin shells; the browser talks to the annotation API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.access import LABELERS, REVIEWERS, get_project_for


def _page_context(request: HttpRequest, project_id: int, roles) -> dict:
    """What every workspace page hands its script: project, role and the API root."""
    project = get_project_for(request.user, project_id, roles)
    return {
        "project": project,
        "role": project.current_role,
        "api_base": reverse("api:project", kwargs={"project_id": project.pk}),
    }


@login_required
@ensure_csrf_cookie
def label_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The labeling workspace (annotators and PIs)."""
    return render(request, "annotation/label.html", _page_context(request, project_id, LABELERS))


@login_required
@ensure_csrf_cookie
def review_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The review workspace (reviewers and PIs)."""
    return render(request, "annotation/review.html", _page_context(request, project_id, REVIEWERS))

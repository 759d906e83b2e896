"""The dashboard page: the numbers go in as JSON (`json_script`), ES modules draw them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import REVIEWERS, get_project_for
from dashboards.queries import project_dashboard


@login_required
def dashboard_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, REVIEWERS)
    return render(request, "dashboards/dashboard.html", {
        "project": project, "data": project_dashboard(project),
    })

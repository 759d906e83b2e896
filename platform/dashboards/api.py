"""GET /api/projects/<id>/dashboard/: the dashboard's numbers as JSON (PIs and reviewers)."""

from __future__ import annotations

from drf_spectacular.plumbing import resolve_type_hint
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import REVIEWERS
from accounts.api_permissions import ProjectScopedMixin
from dashboards.queries import Dashboard, project_dashboard


class DashboardApi(ProjectScopedMixin, APIView):
    """Learning curve and hint, body-part errors, annotators, queue, jobs, frame selection."""

    read_roles = REVIEWERS

    @extend_schema(responses={
        200: OpenApiResponse(resolve_type_hint(Dashboard), description="The dashboard."),
        401: None, 403: None, 404: None,
    })
    def get(self, request: Request, project_id: int) -> Response:
        return Response(project_dashboard(self.get_project()))

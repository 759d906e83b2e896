"""Deleting and restoring a project over the API (services in projects/deletion.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import get_project_for
from accounts.models import Role
from projects.api import ProjectDetailApi
from projects.deletion import delete_project, deleted_project_for, grace_period, restore_project
from projects.serializers import ProjectOutSerializer


class DeletedOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    deleted_at = serializers.DateTimeField()
    restorable_until = serializers.DateTimeField()


class ProjectApi(ProjectDetailApi):
    """A project: members read, the PI edits; the PI or staff DELETE it with ?confirm=<name>.

    Deleting is soft: the project disappears at once and can be restored during the grace
    period (POSELOOP_DELETE_GRACE_DAYS) with POST …/restore/.
    """

    @extend_schema(
        parameters=[OpenApiParameter("confirm", str, required=True,
                                     description="The project's exact name.")],
        responses={200: DeletedOutSerializer},
    )
    def delete(self, request: Request, project_id: int) -> Response:
        project = delete_project(self.get_project(), request.user,
                                 request.query_params.get("confirm", ""))
        return Response({"id": project.pk, "name": project.name,
                         "deleted_at": project.deleted_at,
                         "restorable_until": project.deleted_at + grace_period()})


class ProjectRestoreApi(APIView):
    """The PI or staff bring a deleted project back within the grace period."""

    @extend_schema(request=None, responses=ProjectOutSerializer)
    def post(self, request: Request, project_id: int) -> Response:
        project = restore_project(deleted_project_for(request.user, project_id))
        project = get_project_for(request.user, project.pk, (Role.PI,))
        return Response(ProjectOutSerializer(project).data)

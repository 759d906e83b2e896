"""REST endpoints for projects and their skeleton."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES, visible_projects
from accounts.api_permissions import ProjectScopedMixin
from accounts.models import Role
from projects.serializers import (
    ProjectCreateSerializer,
    ProjectOutSerializer,
    ProjectUpdateSerializer,
    SkeletonSerializer,
)
from projects.services import create_project
from projects.skeleton import set_skeleton, skeleton_dict


class ProjectListApi(generics.ListAPIView):
    """Projects you belong to; POST creates one with you as its PI."""

    serializer_class = ProjectOutSerializer

    def get_queryset(self):
        return visible_projects(self.request.user).prefetch_related("bodyparts", "edges")

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectOutSerializer})
    def post(self, request: Request) -> Response:
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        skeleton = fields.pop("skeleton")
        project = create_project(request.user, skeleton=skeleton, **fields)
        project.current_role = Role.PI
        return Response(ProjectOutSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(ProjectScopedMixin, APIView):
    """A project: any member reads; the PI edits settings."""

    read_roles = ALL_ROLES
    write_roles = (Role.PI,)

    @extend_schema(responses=ProjectOutSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectOutSerializer(self.get_project()).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectOutSerializer)
    def patch(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = ProjectUpdateSerializer(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(ProjectOutSerializer(project).data)


class SkeletonApi(ProjectScopedMixin, APIView):
    """Body parts, edges and left/right pairs; PUT replaces them (ids keep labels)."""

    read_roles = ALL_ROLES
    write_roles = (Role.PI,)

    @extend_schema(responses=SkeletonSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(skeleton_dict(self.get_project()))

    @extend_schema(request=SkeletonSerializer, responses=SkeletonSerializer)
    def put(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = SkeletonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            set_skeleton(project, data.validated_data)
        return Response(skeleton_dict(project))

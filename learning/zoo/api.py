"""REST endpoints of the zoo (thin: parse, authorize, call learning.zoo functions)."""

from __future__ import annotations

import tempfile

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import PI_ONLY, get_project_for, visible_projects
from accounts.api_permissions import ProjectScopedMixin
from jobs.serializers import JobSerializer
from learning.models import ModelVersion
from learning.serializers import ModelVersionSerializer
from learning.zoo import adopt as adoption
from learning.zoo import bundle, entries
from learning.zoo.serializers import (
    AdoptSerializer,
    AnalyseSerializer,
    ImportSerializer,
    PublishSerializer,
    StartProjectSerializer,
    ZooEntrySerializer,
)
from videos.models import Video

FILTERS = [OpenApiParameter(n, str, description=d) for n, d in (
    ("q", "Name contains"), ("species", "Species contains"), ("view", "Camera view contains"),
    ("bodypart", "Has a body part of this name"))]


class ZooListApi(APIView):
    """Zoo entries you may see (filters: q, species, view, bodypart); POST publishes a model
    version (JSON) or imports a bundle (multipart with `bundle`)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(parameters=FILTERS, responses=ZooEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        found = entries.filter_entries(
            entries.visible_entries(request.user).select_related("published_by",
                                                                 "source_version"),
            **{k: request.query_params.get(k, "") for k in ("q", "species", "view",
                                                             "bodypart")})
        return Response(ZooEntrySerializer(found, many=True).data)

    @extend_schema(request={"application/json": PublishSerializer,
                            "multipart/form-data": ImportSerializer},
                   responses={201: ZooEntrySerializer, 400: None, 403: None, 404: None})
    def post(self, request: Request) -> Response:
        if "bundle" in request.data:
            data = ImportSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            entry = bundle.import_bundle(
                data.validated_data["bundle"], request.user,
                visibility=data.validated_data["visibility"],
                project_ids=data.validated_data["projects"])
        else:
            data = PublishSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = dict(data.validated_data)
            version = get_object_or_404(ModelVersion, pk=values.pop("version"),
                                        project__in=visible_projects(request.user))
            entry = entries.publish(version, request.user,
                                    project_ids=values.pop("projects"), **values)
        return Response(ZooEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class ZooDetailApi(APIView):
    """One zoo entry; DELETE: its publisher or staff."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ZooEntrySerializer, 404: None})
    def get(self, request: Request, zoo_id: int) -> Response:
        return Response(ZooEntrySerializer(entries.get_visible(request.user, zoo_id)).data)

    @extend_schema(responses={204: None, 403: None, 404: None})
    def delete(self, request: Request, zoo_id: int) -> Response:
        entries.delete_entry(request.user, entries.get_visible(request.user, zoo_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ZooBundleApi(APIView):
    """The entry as one bundle zip (model.pt + zoo.json)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY, 404: None})
    def get(self, request: Request, zoo_id: int) -> FileResponse:
        entry = entries.get_visible(request.user, zoo_id)
        out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        bundle.write_bundle(entry, out)
        out.seek(0)
        return FileResponse(out, as_attachment=True, filename=bundle.bundle_filename(entry),
                            content_type="application/zip")


class ZooStartProjectApi(APIView):
    """Start a new project (you its PI) from the entry: its body parts, skeleton, backbone,
    input scale, and the entry as the current model."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=StartProjectSerializer,
                   responses={201: ModelVersionSerializer, 400: None, 404: None})
    def post(self, request: Request, zoo_id: int) -> Response:
        entry = entries.get_visible(request.user, zoo_id)
        data = StartProjectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project, version = adoption.start_project(entry, request.user, data.validated_data["name"])
        return Response({"project": project.pk,
                         "version": ModelVersionSerializer(version).data},
                        status=status.HTTP_201_CREATED)


class ZooAnalyseApi(APIView):
    """Adopt the entry into a project (PI) and queue the analysis of one of its videos."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=AnalyseSerializer, responses={202: JobSerializer, 400: None})
    def post(self, request: Request, zoo_id: int) -> Response:
        entry = entries.get_visible(request.user, zoo_id)
        data = AnalyseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = get_project_for(request.user, data.validated_data["project"], PI_ONLY)
        video = get_object_or_404(Video, pk=data.validated_data["video"], project=project)
        _, job = adoption.analyse_with(entry, video, request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class AdoptApi(ProjectScopedMixin, APIView):
    """Adopt a zoo entry or another project's ready version into this project (PI)."""

    write_roles = PI_ONLY

    @extend_schema(request=AdoptSerializer,
                   responses={201: ModelVersionSerializer, 400: None, 404: None})
    def post(self, request: Request, project_id: int) -> Response:
        data = AdoptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        source: object
        if "zoo_entry" in values:
            source = entries.get_visible(request.user, values["zoo_entry"])
        else:
            source = get_object_or_404(ModelVersion, pk=values["version"],
                                       project__in=visible_projects(request.user))
        version = adoption.adopt(self.get_project(), request.user, source,  # type: ignore
                                 values.get("mapping"))
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

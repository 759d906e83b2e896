"""API for importing and exporting labeled datasets.

- ``POST /api/projects/import/dlc/`` (multipart: ``file`` = a zipped DeepLabCut project, and
  ``project`` = id of a project you are PI of, or ``name`` = a project name; a new name
  creates the project with you as PI). Synchronous: the import is one transaction, and a
  zip small enough to upload imports in seconds (openfield: 116 frames).
- ``POST /api/projects/<pid>/exports/dataset/`` ``{"format": "dlc"|"coco"|"sleap"}`` (PI).
- ``GET /api/projects/<pid>/exports/dataset/`` lists the project's export jobs (PI).
- ``GET /api/projects/<pid>/exports/<name>/download/`` streams a zip (PI).
"""

from __future__ import annotations

import tempfile

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import PI_ONLY, get_project_for, has_role
from accounts.api_permissions import ProjectScopedMixin
from jobs.models import Job, JobKind, JobStatus
from jobs.serializers import JobSerializer
from learning.exchange.exporting import DEFAULT_SCORER, FORMATS, export_dataset, export_path
from learning.exchange.importing import extract_project_zip, run_dlc_import
from learning.formats.errors import FormatError
from projects.models import Project
from videos.uploads import over_limit_message, over_upload_limit


class DlcImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A .zip of a DeepLabCut project folder.")
    project = serializers.IntegerField(required=False, help_text="Import into this project.")
    name = serializers.CharField(
        required=False, max_length=120, help_text="Or: a project name (new, or one you lead)."
    )

    def validate(self, attrs: dict) -> dict:
        if ("project" in attrs) == ("name" in attrs):
            raise serializers.ValidationError("Give either 'project' (an id) or 'name'.")
        return attrs


class ImportSummarySerializer(serializers.Serializer):
    project = serializers.IntegerField()
    project_name = serializers.CharField()
    project_created = serializers.BooleanField()
    frames_created = serializers.IntegerField()
    frames_existing = serializers.IntegerField()
    labels_written = serializers.IntegerField()
    labels_unchanged = serializers.IntegerField()
    points = serializers.IntegerField()
    absent_points = serializers.IntegerField()


def _import_target(request: Request, data: dict) -> tuple[Project | None, str | None]:
    """The project to import into (PI only), or a new project's name."""
    if "project" in data:
        return get_project_for(request.user, data["project"], PI_ONLY), None
    name = data["name"].strip()
    existing = Project.objects.filter(name=name).first()
    if existing is None:
        return None, name
    if existing.deleted_at is None and has_role(request.user, existing, PI_ONLY):
        return existing, None
    raise serializers.ValidationError({"name": "A project with this name already exists."})


class DlcImportApi(APIView):
    """Import a zipped DeepLabCut project: into a project you lead, or as a new project."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": DlcImportSerializer},
        responses={201: ImportSummarySerializer, 200: ImportSummarySerializer},
    )
    def post(self, request: Request) -> Response:
        too_large = Response(
            {"detail": over_limit_message()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
        if over_upload_limit(request._request):
            return too_large
        data = DlcImportSerializer(data=request.data)
        if over_upload_limit(request._request):
            return too_large
        data.is_valid(raise_exception=True)
        project, name = _import_target(request, data.validated_data)
        try:
            with tempfile.TemporaryDirectory(prefix="poseloop-import-") as tmp:
                root = extract_project_zip(data.validated_data["file"], tmp)
                summary = run_dlc_import(
                    root, project=project, project_name=name, user=request.user
                )
        except FormatError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_201_CREATED if summary.project_created else status.HTTP_200_OK
        return Response(summary.as_dict(), status=code)


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS)
    scorer = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,60}$", required=False, default=DEFAULT_SCORER,
        help_text="DeepLabCut scorer name (CollectedData_<scorer>).",
    )  # fmt: skip


class ExportOutSerializer(serializers.Serializer):
    job = JobSerializer()
    name = serializers.CharField(allow_null=True)
    download_url = serializers.CharField(allow_null=True)


def _export_answer(job: Job) -> dict:
    name = (job.result or {}).get("name")
    url = None
    if name and job.status == JobStatus.SUCCEEDED:
        url = reverse(
            "api:dataset-export-download", kwargs={"project_id": job.project_id, "name": name}
        )
    return {"job": JobSerializer(job).data, "name": name, "download_url": url}


class DatasetExportApi(ProjectScopedMixin, APIView):
    """The PI exports the consensus labels as a zipped dataset; GET lists past exports.

    Built synchronously, recorded as a Job (kind export) with its progress and result:
    writing a few hundred labeled frames and zipping them takes seconds, and no Celery task
    is needed for it yet. ``learning.exchange.exporting.run_export_job(job_id)`` is what a task
    would call for very large projects.
    """

    read_roles = PI_ONLY
    write_roles = PI_ONLY

    @extend_schema(responses=ExportOutSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        jobs = Job.objects.filter(project=self.get_project(), kind=JobKind.EXPORT)[:50]
        return Response([_export_answer(job) for job in jobs])

    @extend_schema(request=ExportRequestSerializer, responses={201: ExportOutSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = ExportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        job, error = export_dataset(project, params["format"], params["scorer"], request.user.pk)
        if error is not None:
            body = {"detail": error, "job": JobSerializer(job).data}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(_export_answer(job), status=status.HTTP_201_CREATED)


class ExportDownloadApi(ProjectScopedMixin, APIView):
    """Stream a zipped export of the project (PI), never loading it whole."""

    read_roles = PI_ONLY

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, name: str) -> FileResponse:
        storage_name = export_path(self.get_project(), name)
        if storage_name is None:
            raise NotFound("No such export.")
        return FileResponse(
            default_storage.open(storage_name, "rb"),
            as_attachment=True,
            filename=name,
            content_type="application/zip",
        )

"""REST endpoints for model versions, training and predictions (thin: parse, authorize, call)."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES, PI_ONLY
from accounts.api_permissions import ProjectScopedMixin
from jobs.serializers import JobSerializer
from learning.errors import Conflict
from learning.models import CurrentModel, ModelVersion
from learning.serializers import (
    CurrentModelSerializer,
    DistillRequestSerializer,
    ModelVersionSerializer,
    PredictionSerializer,
    TrainRequestSerializer,
    TrainStartedSerializer,
)
from learning.training import distill as distillation
from learning.training import registry
from learning.training import runs as training
from videos.models import Frame

CONFLICT = OpenApiResponse(description="A training is running, or the version's state forbids it.")


def conflict(exc: Conflict) -> Response:
    return Response({"detail": exc.detail}, status=status.HTTP_409_CONFLICT)


class _VersionMixin(ProjectScopedMixin):
    def get_version(self, version_id: int) -> ModelVersion:
        return get_object_or_404(ModelVersion, pk=version_id, project=self.get_project())

    def serializer_context(self) -> dict:
        pointer = CurrentModel.objects.filter(project=self.get_project()).first()
        return {"current_id": pointer.version_id if pointer else None}


class ModelListApi(_VersionMixin, generics.ListAPIView):
    """Model versions of the project, newest first."""

    read_roles = ALL_ROLES
    serializer_class = ModelVersionSerializer

    def get_queryset(self):
        return ModelVersion.objects.filter(project=self.get_project()).order_by("-iteration")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), **self.serializer_context()}


class ModelDetailApi(_VersionMixin, APIView):
    read_roles = ALL_ROLES

    @extend_schema(responses=ModelVersionSerializer)
    def get(self, request: Request, project_id: int, version_id: int) -> Response:
        version = self.get_version(version_id)
        return Response(ModelVersionSerializer(version, context=self.serializer_context()).data)


class CurrentModelApi(ProjectScopedMixin, APIView):
    """The current model: id, iteration, created_at, test RMSE and the previous one's; null
    while the project has none (pages learn from it whether to ask for predictions)."""

    read_roles = ALL_ROLES

    @extend_schema(responses={200: CurrentModelSerializer(allow_null=True)})
    def get(self, request: Request, project_id: int) -> Response | JsonResponse:
        version = registry.current_version(self.get_project())
        if version is None:
            # A JSON null body (DRF's renderer would send an empty one for None).
            return JsonResponse(None, safe=False)
        previous = registry.previous_current(version)
        data = {
            "id": version.pk, "iteration": version.iteration, "created_at": version.created_at,
            "test_rmse_px": version.metrics.get("test_rmse_px"),
            "previous_test_rmse_px": previous.metrics.get("test_rmse_px") if previous else None,
        }
        return Response(CurrentModelSerializer(data).data)


class TrainApi(ProjectScopedMixin, APIView):
    """Start a training (PI): 202 with the new version and its job; 409 while one runs."""

    write_roles = PI_ONLY

    @extend_schema(request=TrainRequestSerializer,
                   responses={202: TrainStartedSerializer, 400: None, 409: CONFLICT})
    def post(self, request: Request, project_id: int) -> Response:
        data = TrainRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = training.start_training(self.get_project(), user=request.user,
                                              minutes=data.validated_data.get("minutes"),
                                              overrides=data.validated_data.get("overrides"))
        except Conflict as exc:
            return conflict(exc)
        version.refresh_from_db()
        body = {"version": ModelVersionSerializer(version).data,
                "job": JobSerializer(version.job).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class DistillApi(_VersionMixin, APIView):
    """Make a fast model of this version (PI): 202 with the new student version and its job;
    409 while a training runs or when the version is not ready."""

    write_roles = PI_ONLY

    @extend_schema(request=DistillRequestSerializer,
                   responses={202: TrainStartedSerializer, 400: None, 409: CONFLICT})
    def post(self, request: Request, project_id: int, version_id: int) -> Response:
        data = DistillRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = distillation.start_distillation(
                self.get_version(version_id), user=request.user,
                minutes=data.validated_data.get("minutes"), options=data.options())
        except Conflict as exc:
            return conflict(exc)
        version.refresh_from_db()
        body = {"version": ModelVersionSerializer(version).data,
                "job": JobSerializer(version.job).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class CancelApi(_VersionMixin, APIView):
    """Cancel a queued or running training (PI)."""

    write_roles = PI_ONLY

    @extend_schema(request=None, responses={202: ModelVersionSerializer, 409: CONFLICT})
    def post(self, request: Request, project_id: int, version_id: int) -> Response:
        try:
            version = training.cancel_training(self.get_version(version_id))
        except Conflict as exc:
            return conflict(exc)
        return Response(ModelVersionSerializer(version, context=self.serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)


class ActivateApi(_VersionMixin, APIView):
    """Make a ready version current (PI rollback)."""

    write_roles = PI_ONLY

    @extend_schema(request=None, responses={200: ModelVersionSerializer, 409: CONFLICT})
    def post(self, request: Request, project_id: int, version_id: int) -> Response:
        try:
            version = registry.activate(self.get_version(version_id))
        except Conflict as exc:
            return conflict(exc)
        return Response(ModelVersionSerializer(version, context=self.serializer_context()).data)


class EvalImageApi(_VersionMixin, APIView):
    """Evaluation image n (PNG): labeled points (green) and predictions (red) on a test frame."""

    read_roles = ALL_ROLES

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 404: None})
    def get(self, request: Request, project_id: int, version_id: int, n: int) -> FileResponse:
        version = self.get_version(version_id)
        if not 0 <= n < len(version.eval_images):
            raise Http404("No such evaluation image.")
        response = FileResponse(default_storage.open(version.eval_images[n], "rb"),
                                content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class FramePredictionApi(ProjectScopedMixin, APIView):
    """The current model's keypoints for a frame (any member); 404 without a current model."""

    read_roles = ALL_ROLES

    @extend_schema(responses={200: PredictionSerializer, 404: None})
    def get(self, request: Request, project_id: int, frame_id: int) -> Response:
        project = self.get_project()
        frame = get_object_or_404(Frame, pk=frame_id, project=project)
        version = registry.current_version(project)
        if version is None:
            raise Http404("This project has no current model yet.")
        bodyparts = list(project.bodyparts.values_list("id", "name"))
        if registry.is_multi_animal(version):
            instances = registry.predict_instances(version, frame, bodyparts)
            return Response(PredictionSerializer(
                {"model_version": version.pk, "points": [], "instances": instances}).data)
        points = registry.predict_frame(version, frame, bodyparts)
        return Response(PredictionSerializer({"model_version": version.pk, "points": points}).data)

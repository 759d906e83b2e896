"""REST endpoints for video analysis results and model bundles; files stream after access checks.

Routes (under /api/projects/<project_id>/):
  POST videos/<video_id>/analyze/                              PI: queue an analysis (202 job)
  GET  videos/<video_id>/analyses/                             PI, reviewers: published analyses
  GET  videos/<video_id>/analyses/<analysis_id>/download/<file>  PI, reviewers: one result file
  GET  videos/<video_id>/analyses/<analysis_id>/frames/<index>/  PI, reviewers: PNG, pose drawn
  POST models/<version_id>/export/                             PI: the model bundle (zip)
"""

from __future__ import annotations

import mimetypes

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import REVIEWERS
from accounts.api_permissions import ProjectScopedMixin
from accounts.models import Role
from jobs.serializers import JobSerializer
from learning.analysis import videos as analysis
from learning.analysis.labeled_video import frame_png_for_video
from learning.analysis.track_edits import swap_tracks
from learning.exchange.model_export import export_bundle
from learning.models import ModelVersion
from videos.models import Video


class AnalyzeInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, allow_null=True,
                                       help_text="Model version id; default: the current model.")
    filtered = serializers.BooleanField(default=True)
    median_window = serializers.IntegerField(default=analysis.DEFAULT_MEDIAN_WINDOW, min_value=1)
    pcutoff = serializers.FloatField(default=analysis.DEFAULT_PCUTOFF, min_value=0, max_value=1)
    labeled_video = serializers.BooleanField(default=False)
    tracking = serializers.BooleanField(
        default=True, help_text="Run the network on a window around the animal where that gives "
                                "the whole frame's result (faster); false: whole frames only.")
    int8 = serializers.BooleanField(
        default=False, help_text="CPU only: int8 backbone calibrated on the video (~1.4x faster, "
                                 "same test error on openfield, but an uncertain point can move "
                                 "far); false: float32, the exact network.")
    chunk_frames = serializers.IntegerField(default=analysis.DEFAULT_CHUNK_FRAMES, min_value=16)
    batch_size = serializers.IntegerField(default=analysis.DEFAULT_BATCH, min_value=1,
                                          max_value=256)


class AnalysisSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="job_id")
    video_id = serializers.IntegerField()
    version_id = serializers.IntegerField()
    iteration = serializers.IntegerField()
    scorer = serializers.CharField()
    bodyparts = serializers.ListField(child=serializers.CharField())
    frames = serializers.IntegerField()
    files = serializers.ListField(child=serializers.CharField())
    pose_table = serializers.CharField()
    params = serializers.DictField()
    seconds = serializers.FloatField()
    created_at = serializers.CharField()
    individuals = serializers.ListField(child=serializers.CharField(), required=False,
                                        help_text="Track names (multi-animal analyses).")
    track_summary = serializers.DictField(required=False)
    track_edits = serializers.IntegerField(required=False)


class _VideoScoped(ProjectScopedMixin, APIView):
    read_roles = REVIEWERS
    write_roles = (Role.PI,)

    def get_video(self, video_id: int) -> Video:
        return get_object_or_404(
            Video, pk=video_id, project=self.get_project(), deleted_at__isnull=True
        )


class AnalyzeVideoApi(_VideoScoped):
    """Queue an analysis of the video with a ready model (PI)."""

    @extend_schema(request=AnalyzeInputSerializer, responses={202: JobSerializer})
    def post(self, request: Request, project_id: int, video_id: int) -> Response:
        video = self.get_video(video_id)
        data = AnalyzeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        version_id = options.pop("version", None)
        try:
            version = analysis.resolve_version(self.get_project(), version_id)
            job = analysis.start_analysis(video, version, options, user=request.user)
        except ValidationError as exc:
            return Response(exc.message_dict if hasattr(exc, "error_dict") else
                            {"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class AnalysisListApi(_VideoScoped):
    """Published analyses of a video, newest first (PI and reviewers)."""

    @extend_schema(responses=AnalysisSerializer(many=True))
    def get(self, request: Request, project_id: int, video_id: int) -> Response:
        found = analysis.list_analyses(self.get_video(video_id))
        return Response(AnalysisSerializer(found, many=True).data)


class AnalysisDownloadApi(_VideoScoped):
    """One file of a published analysis, streamed (PI and reviewers)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, video_id: int, analysis_id: int,
            filename: str) -> FileResponse:
        handle = analysis.open_result_file(self.get_video(video_id), analysis_id, filename)
        if handle is None:
            raise Http404("No such analysis file.")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return FileResponse(handle, as_attachment=True, filename=filename,
                            content_type=content_type)


class AnalysisFrameApi(_VideoScoped):
    """Frame `index` of the video with the analysis' pose drawn, as PNG (PI and reviewers)."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, video_id: int, analysis_id: int,
            index: int) -> HttpResponse:
        video = self.get_video(video_id)
        loaded = analysis.load_poses(video, analysis_id)
        if loaded is None:
            raise Http404("No such analysis.")
        manifest, poses = loaded
        if index >= len(poses):
            raise Http404("No such frame.")
        below = "hide" if request.query_params.get("below") == "hide" else "hollow"
        png = frame_png_for_video(video, poses, index, below=below,
                                  pcutoff=float(manifest["params"].get("pcutoff", 0.6)),
                                  track_names=manifest.get("individuals"))
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class SwapTracksInSerializer(serializers.Serializer):
    frame = serializers.IntegerField(min_value=0)
    track_a = serializers.CharField(max_length=40)
    track_b = serializers.CharField(max_length=40)


class SwapTracksApi(_VideoScoped):
    """Fix an identity swap in a multi-animal analysis: tracks A and B trade places from
    `frame` on; every table of the analysis is written again with all its fixes (PI)."""

    @extend_schema(request=SwapTracksInSerializer, responses=AnalysisSerializer)
    def post(self, request: Request, project_id: int, video_id: int,
             analysis_id: int) -> Response:
        video = self.get_video(video_id)
        data = SwapTracksInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        _, manifest = swap_tracks(video, analysis_id, v["frame"], v["track_a"], v["track_b"],
                                  request.user)
        return Response(AnalysisSerializer(manifest).data)


class ModelExportApi(ProjectScopedMixin, APIView):
    """The model version as a zip bundle (ONNX, TorchScript, metadata), built once (PI)."""

    read_roles = (Role.PI,)
    write_roles = (Role.PI,)

    @extend_schema(request=None, responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def post(self, request: Request, project_id: int, version_id: int) -> FileResponse:
        version = get_object_or_404(ModelVersion, pk=version_id, project=self.get_project())
        try:
            name = export_bundle(version)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return FileResponse(default_storage.open(name, "rb"), as_attachment=True,
                            filename=name.rsplit("/", 1)[-1], content_type="application/zip")

"""REST endpoints for videos and frames; media goes through access-checked views only."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES
from accounts.api_permissions import ProjectScopedMixin
from accounts.models import Role
from jobs.serializers import JobSerializer
from videos.extraction import Strategy
from videos.ingest import DuplicateVideo, add_uploaded_file
from videos.models import Frame, Video
from videos.serializers import (
    ExtractSerializer,
    FrameSerializer,
    VideoSerializer,
    VideoUploadSerializer,
)
from videos.services import start_extraction
from videos.uploads import over_limit_message, over_upload_limit


def upload_video(request: Request, project) -> Response:
    """Validate an uploaded file and add it; 400/409/413 leave nothing behind."""
    over_limit = Response(
        {"detail": over_limit_message()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    )
    if over_upload_limit(request._request):  # declared length: refuse before reading the body
        return over_limit
    data = VideoUploadSerializer(data=request.data)
    if over_upload_limit(request._request):  # counted while streaming
        return over_limit
    data.is_valid(raise_exception=True)
    try:
        video = add_uploaded_file(project, data.validated_data["file"], request.user)
    except DuplicateVideo as exc:
        return Response(
            {"detail": exc.messages[0], "existing_id": exc.existing.pk},
            status=status.HTTP_409_CONFLICT,
        )
    return Response(VideoSerializer(video).data, status=status.HTTP_201_CREATED)


class VideoListApi(ProjectScopedMixin, generics.ListAPIView):
    """Videos of a project; the PI uploads (multipart field `file`)."""

    read_roles = ALL_ROLES
    write_roles = (Role.PI,)
    serializer_class = VideoSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return (
            Video.objects.filter(project=self.get_project(), deleted_at__isnull=True)
            .annotate(n_frames_extracted=Count("frames"))
            .order_by("name", "id")
        )

    @extend_schema(
        request={"multipart/form-data": VideoUploadSerializer}, responses={201: VideoSerializer}
    )
    def post(self, request: Request, project_id: int) -> Response:
        return upload_video(request, self.get_project())


class VideoDetailApi(ProjectScopedMixin, APIView):
    read_roles = ALL_ROLES

    @extend_schema(responses=VideoSerializer)
    def get(self, request: Request, project_id: int, video_id: int) -> Response:
        video = get_object_or_404(
            Video, pk=video_id, project=self.get_project(), deleted_at__isnull=True
        )
        return Response(VideoSerializer(video).data)


class ExtractFramesApi(ProjectScopedMixin, APIView):
    """Queue frame extraction (uniform, random or k-means diversity) for a video (PI)."""

    write_roles = (Role.PI,)

    @extend_schema(request=ExtractSerializer, responses={202: JobSerializer})
    def post(self, request: Request, project_id: int, video_id: int) -> Response:
        video = get_object_or_404(
            Video, pk=video_id, project=self.get_project(), deleted_at__isnull=True
        )
        data = ExtractSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = start_extraction(
            video,
            Strategy(data.validated_data["strategy"]),
            data.validated_data["n"],
            seed=data.validated_data["seed"],
            user=request.user,
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class FrameListApi(ProjectScopedMixin, generics.ListAPIView):
    """Frames of a project (filter with ?video=<id>)."""

    read_roles = ALL_ROLES
    serializer_class = FrameSerializer

    def get_queryset(self):
        frames = Frame.objects.live().filter(project=self.get_project())
        video = self.request.query_params.get("video")
        if video is not None:
            if not video.isdigit():
                raise ValidationError({"video": "Must be a video id."})
            frames = frames.filter(video_id=int(video))
        return frames


class FrameDetailApi(ProjectScopedMixin, APIView):
    read_roles = ALL_ROLES

    @extend_schema(responses=FrameSerializer)
    def get(self, request: Request, project_id: int, frame_id: int) -> Response:
        frame = get_object_or_404(Frame.objects.live(), pk=frame_id, project=self.get_project())
        return Response(FrameSerializer(frame).data)


class FrameImageApi(ProjectScopedMixin, APIView):
    """The frame's image (PNG), streamed after the access check."""

    read_roles = ALL_ROLES

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, frame_id: int) -> FileResponse:
        frame = get_object_or_404(Frame.objects.live(), pk=frame_id, project=self.get_project())
        response = FileResponse(frame.image.open("rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response

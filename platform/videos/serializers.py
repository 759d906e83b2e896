"""API shapes for videos, frames and extraction requests."""

from __future__ import annotations

from rest_framework import serializers

from videos.extraction import Strategy
from videos.models import Frame, Video
from videos.services import MAX_FRAMES_PER_EXTRACTION


class VideoSerializer(serializers.ModelSerializer):
    duration_s = serializers.FloatField(read_only=True)
    n_frames_extracted = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Video
        fields = [
            "id",
            "name",
            "sha256",
            "size_bytes",
            "fps",
            "frame_count",
            "width",
            "height",
            "codec",
            "duration_s",
            "created_at",
            "n_frames_extracted",
        ]


class VideoUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class ExtractSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=[s.value for s in Strategy], default="kmeans")
    n = serializers.IntegerField(min_value=1, max_value=MAX_FRAMES_PER_EXTRACTION, default=20)
    seed = serializers.IntegerField(min_value=0, default=0)


class FrameSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Frame
        fields = [
            "id",
            "video",
            "frame_index",
            "width",
            "height",
            "origin",
            "external_path",
            "extraction_strategy",
            "created_at",
            "image_url",
        ]

    def get_image_url(self, frame: Frame) -> str:
        return f"/api/projects/{frame.project_id}/frames/{frame.pk}/image/"

"""GET /api/projects/<id>/frames/<frame_id>/reprojection/: the labeling page's suggestions
from the other views of a session (thin over `cameras.prefill`). Any member may read."""

from __future__ import annotations

import dataclasses

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES
from accounts.api_permissions import ProjectScopedMixin
from cameras.prefill import reprojection_prefill
from videos.models import Frame


class PrefillPointSerializer(serializers.Serializer):
    bodypart = serializers.IntegerField(help_text="BodyPart id, as in labels")
    name = serializers.CharField(help_text="BodyPart name")
    x = serializers.FloatField()
    y = serializers.FloatField()
    views = serializers.IntegerField(help_text="Other views whose labels place this part")


class PrefillSerializer(serializers.Serializer):
    session = serializers.IntegerField(allow_null=True)
    session_frame = serializers.IntegerField(allow_null=True)
    camera = serializers.CharField(allow_blank=True, help_text="This frame's camera")
    views = serializers.ListField(child=serializers.CharField(),
                                  help_text="Cameras whose labels were triangulated")
    points = PrefillPointSerializer(many=True)


class FrameReprojectionApi(ProjectScopedMixin, APIView):
    """Body parts labeled in two or more other calibrated views of the same session moment,
    reprojected into this frame; empty `points` when there are none."""

    read_roles = ALL_ROLES

    @extend_schema(responses={200: PrefillSerializer, 404: None})
    def get(self, request: Request, project_id: int, frame_id: int) -> Response:
        frame = get_object_or_404(Frame, pk=frame_id, project=self.get_project())
        return Response(PrefillSerializer(dataclasses.asdict(reprojection_prefill(frame))).data)

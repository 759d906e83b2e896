"""Label endpoints: my label of a frame (read, save), label lists, history, progress."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES, LABELERS
from accounts.models import Role
from annotation.api_base import AnnotationScopedMixin
from annotation.labels import save_label
from annotation.models import Label
from annotation.progress import progress_for
from annotation.serializers import (
    ConflictSerializer,
    LabelOutSerializer,
    LabelQuerySerializer,
    LabelSaveInSerializer,
    LabelSerializer,
    ProgressSerializer,
    RevisionSerializer,
)
from videos.models import Frame


class FrameLabelApi(AnnotationScopedMixin, APIView):
    """Your label of a frame: GET it (404 if none), PUT a new version of it."""

    read_roles = ALL_ROLES
    write_roles = LABELERS

    @extend_schema(responses=LabelSerializer)
    def get(self, request: Request, project_id: int, frame_id: int) -> Response:
        label = get_object_or_404(Label.objects.select_related("annotator"), frame_id=frame_id,
                                  project=self.get_project(), annotator=request.user)
        return Response(LabelSerializer(label).data)

    @extend_schema(request=LabelSaveInSerializer,
                   responses={200: LabelOutSerializer, 409: ConflictSerializer})
    def put(self, request: Request, project_id: int, frame_id: int) -> Response:
        project = self.get_project()
        frame = get_object_or_404(Frame, pk=frame_id, project=project)
        data = LabelSaveInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        label = save_label(project, frame, request.user, v["points"], base_version=v["version"],
                           request_id=v["request_id"], seconds_spent=v["seconds_spent"],
                           source=v["source"], entry_id=v["entry"], submit=v["submit"])
        label.annotator = request.user
        return Response({"label": LabelSerializer(label).data})


def visible_labels(project, user) -> QuerySet[Label]:
    """Reviewers and PIs see every label of the project; annotators their own."""
    labels = Label.objects.filter(project=project).select_related("annotator")
    if project.current_role == Role.ANNOTATOR:
        labels = labels.filter(annotator=user)
    return labels


class LabelListApi(AnnotationScopedMixin, generics.ListAPIView):
    """Labels (filter ?frame=<id>&annotator=<username>); annotators see only their own."""

    read_roles = ALL_ROLES
    serializer_class = LabelSerializer

    def get_queryset(self) -> QuerySet[Label]:
        query = LabelQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        labels = visible_labels(self.get_project(), self.request.user).order_by("frame_id", "id")
        if "frame" in query.validated_data:
            labels = labels.filter(frame_id=query.validated_data["frame"])
        if "annotator" in query.validated_data:
            labels = labels.filter(annotator__username=query.validated_data["annotator"])
        return labels

    @extend_schema(parameters=[LabelQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class LabelHistoryApi(AnnotationScopedMixin, APIView):
    """Every saved version of a label, oldest first."""

    read_roles = ALL_ROLES

    @extend_schema(responses=RevisionSerializer(many=True))
    def get(self, request: Request, project_id: int, label_id: int) -> Response:
        label = get_object_or_404(visible_labels(self.get_project(), request.user), pk=label_id)
        revisions = label.revisions.select_related("saved_by").order_by("version")
        return Response(RevisionSerializer(revisions, many=True).data)


class ProgressApi(AnnotationScopedMixin, APIView):
    """Your labels today and in total, the project's labeled frames, the queue's size."""

    read_roles = ALL_ROLES

    @extend_schema(responses=ProgressSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProgressSerializer(progress_for(self.get_project(), request.user)).data)

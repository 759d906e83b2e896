"""Queue endpoints: lease, skip, flag, release (labelers); list, add, pin, clear (PI)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import LABELERS, PI_ONLY
from annotation import queue
from annotation.api_base import AnnotationScopedMixin
from annotation.models import Label, QueueEntry
from annotation.serializers import (
    ClearOutSerializer,
    ConflictSerializer,
    EntryAdminSerializer,
    EntryPatchInSerializer,
    LeaseOutSerializer,
    QueueAddInSerializer,
    QueueAddOutSerializer,
    QueueStatusQuerySerializer,
    ReasonInSerializer,
)


class LeaseNextApi(AnnotationScopedMixin, APIView):
    """Lease the next frame to label (your current lease if you hold one); 204 when none."""

    write_roles = LABELERS

    @extend_schema(request=None, responses={200: LeaseOutSerializer,
                                            204: OpenApiResponse(description="Nothing to label.")})
    def post(self, request: Request, project_id: int) -> Response:
        entry = queue.lease_next(self.get_project(), request.user)
        if entry is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        label = None
        label_id = entry.my_label_id  # type: ignore[attr-defined]  # see queue.lease_next
        if label_id is not None:  # a draft or a rejected label: usually none
            label = Label.objects.filter(pk=label_id).first()
            if label is not None:
                label.annotator = request.user
        return Response(LeaseOutSerializer({"entry": entry, "frame": entry.frame,
                                            "label": label}).data)


class _EndLeaseApi(AnnotationScopedMixin, APIView):
    write_roles = LABELERS

    def end(self, request: Request, entry_id: int, reason: str) -> QueueEntry:
        raise NotImplementedError

    @extend_schema(request=ReasonInSerializer,
                   responses={200: EntryAdminSerializer, 409: ConflictSerializer})
    def post(self, request: Request, project_id: int, entry_id: int) -> Response:
        data = ReasonInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = self.end(request, entry_id, data.validated_data["reason"])
        return Response(EntryAdminSerializer(entry).data)


class SkipApi(_EndLeaseApi):
    """Give up the frame you hold, with a reason; it leaves the queue as skipped."""

    def end(self, request: Request, entry_id: int, reason: str) -> QueueEntry:
        return queue.skip_entry(self.get_project(), entry_id, request.user, reason)


class FlagApi(_EndLeaseApi):
    """Mark the frame you hold unusable, with a reason."""

    def end(self, request: Request, entry_id: int, reason: str) -> QueueEntry:
        return queue.flag_entry(self.get_project(), entry_id, request.user, reason)


class ReleaseApi(_EndLeaseApi):
    """Hand the frame you hold back to the queue."""

    def end(self, request: Request, entry_id: int, reason: str) -> QueueEntry:
        return queue.release_entry(self.get_project(), entry_id, request.user)


class QueueApi(AnnotationScopedMixin, generics.ListAPIView):
    """The PI's view of the queue (filter with ?status=); POST adds or pins frames."""

    read_roles = PI_ONLY
    write_roles = PI_ONLY
    serializer_class = EntryAdminSerializer

    def get_queryset(self) -> QuerySet[QueueEntry]:
        query = QueueStatusQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        entries = (QueueEntry.objects.filter(project=self.get_project())
                   .select_related("leased_to", "assigned_to")
                   .order_by("-pinned", "-priority", "id"))
        if "status" in query.validated_data:
            entries = entries.filter(status=query.validated_data["status"])
        return entries

    @extend_schema(parameters=[QueueStatusQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=QueueAddInSerializer, responses=QueueAddOutSerializer)
    def post(self, request: Request, project_id: int) -> Response:
        data = QueueAddInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = queue.add_frames(self.get_project(), data.validated_data["frame_ids"],
                                  pinned=data.validated_data["pinned"],
                                  priority=data.validated_data.get("priority"))
        return Response(QueueAddOutSerializer(result).data)


class QueueEntryApi(AnnotationScopedMixin, APIView):
    """The PI pins an entry or sets its priority."""

    write_roles = PI_ONLY

    @extend_schema(request=EntryPatchInSerializer, responses=EntryAdminSerializer)
    def patch(self, request: Request, project_id: int, entry_id: int) -> Response:
        data = EntryPatchInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = queue.update_entry(self.get_project(), entry_id, **data.validated_data)
        return Response(EntryAdminSerializer(entry).data)


class QueueClearApi(AnnotationScopedMixin, APIView):
    """The PI removes every open entry; leased entries stay."""

    write_roles = PI_ONLY

    @extend_schema(request=None, responses=ClearOutSerializer)
    def post(self, request: Request, project_id: int) -> Response:
        return Response({"removed": queue.clear_queue(self.get_project())})

"""API shapes of the annotation endpoints (docs/annotation-api-contract.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation.models import (
    EntryStatus,
    Label,
    LabelRevision,
    LabelSource,
    PointState,
    QueueEntry,
    ReviewDecision,
)
from videos.models import Frame


class PointSerializer(serializers.Serializer):
    """Documentation of one point; the services validate points against the project."""

    bodypart = serializers.IntegerField()
    x = serializers.FloatField(allow_null=True)
    y = serializers.FloatField(allow_null=True)
    state = serializers.ChoiceField(choices=PointState.choices)


@extend_schema_field(PointSerializer(many=True))
class PointsField(serializers.JSONField):
    """A list of points, passed as is to the services, which explain what is wrong."""


class FrameBriefSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Frame
        fields = ["id", "width", "height", "image_url", "video", "frame_index"]

    def get_image_url(self, frame: Frame) -> str:
        return f"/api/projects/{frame.project_id}/frames/{frame.pk}/image/"


class LabelSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", read_only=True)
    points = PointsField(read_only=True)

    class Meta:
        model = Label
        fields = ["id", "frame", "annotator", "version", "points", "source", "status",
                  "seconds_spent", "updated_at"]


class EntrySerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model_version_id", allow_null=True)

    class Meta:
        model = QueueEntry
        fields = ["id", "priority", "reason", "components", "model_version", "lease_expires_at"]


class EntryAdminSerializer(EntrySerializer):
    leased_to = serializers.CharField(source="leased_to.username", default=None)
    assigned_to = serializers.CharField(source="assigned_to.username", default=None)

    class Meta(EntrySerializer.Meta):
        fields = [*EntrySerializer.Meta.fields, "frame", "status", "status_note", "pinned",
                  "labels_required", "leased_to", "assigned_to", "created_at", "updated_at"]


class LeaseOutSerializer(serializers.Serializer):
    entry = EntrySerializer()
    frame = FrameBriefSerializer()
    label = LabelSerializer(allow_null=True)


class ReasonInSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True, default="")


class QueueAddInSerializer(serializers.Serializer):
    frame_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False,
                                      max_length=10_000)
    pinned = serializers.BooleanField(default=False)
    priority = serializers.FloatField(required=False)


class QueueAddOutSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    ignored_frame_ids = serializers.ListField(child=serializers.IntegerField())


class EntryPatchInSerializer(serializers.Serializer):
    pinned = serializers.BooleanField(required=False)
    priority = serializers.FloatField(required=False)


class QueueStatusQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=EntryStatus.choices, required=False)


class ClearOutSerializer(serializers.Serializer):
    removed = serializers.IntegerField()


class LabelSaveInSerializer(serializers.Serializer):
    points = PointsField()
    version = serializers.IntegerField(min_value=0)
    seconds_spent = serializers.FloatField(min_value=0, default=0.0)
    source = serializers.ChoiceField(
        choices=[LabelSource.HUMAN, LabelSource.CORRECTED_PREDICTION], default=LabelSource.HUMAN)
    request_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    entry = serializers.IntegerField(required=False, allow_null=True, default=None)
    submit = serializers.BooleanField(default=False)


class LabelOutSerializer(serializers.Serializer):
    label = LabelSerializer()


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current = LabelSerializer(allow_null=True)


class LabelQuerySerializer(serializers.Serializer):
    frame = serializers.IntegerField(required=False)
    annotator = serializers.CharField(required=False)


class RevisionSerializer(serializers.ModelSerializer):
    saved_by = serializers.CharField(source="saved_by.username", default=None)
    points = PointsField(read_only=True)

    class Meta:
        model = LabelRevision
        fields = ["version", "points", "saved_by", "saved_at"]


class ProgressSerializer(serializers.Serializer):
    mine_today = serializers.IntegerField()
    mine_total = serializers.IntegerField()
    project_labeled_frames = serializers.IntegerField()
    queue_open = serializers.IntegerField()
    queue_leased = serializers.IntegerField()


class ReviewInSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    note = serializers.CharField(max_length=5000, allow_blank=True, default="")
    points = PointsField(required=False, allow_null=True, default=None)


class ReviewNextOutSerializer(serializers.Serializer):
    label = LabelSerializer()
    frame = FrameBriefSerializer()
    others = LabelSerializer(many=True)
    suspect = serializers.BooleanField(
        help_text="The newest scoring run found this frame's skeleton implausible: a likely "
                  "label error.")


class BodyPartAgreementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mean_px = serializers.FloatField(allow_null=True)
    n_frames = serializers.IntegerField()


class AgreementSerializer(serializers.Serializer):
    n_frames = serializers.IntegerField()
    bodyparts = BodyPartAgreementSerializer(many=True)

"""API shapes of projects and skeletons."""

from __future__ import annotations

from rest_framework import serializers

from projects.models import Project
from projects.skeleton import skeleton_dict

LOOP_FIELDS = [
    "retrain_after_labels",
    "retrain_every_hours",
    "queue_size",
    "selection_strategy",
    "selection_batch_size",
    "acquisition_weights",
    "double_label_fraction",
    "lease_minutes",
    "backbone",
    "input_scale",
    "require_improvement",
    "student_tolerance_px",
]


class BodyPartInSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    name = serializers.CharField(max_length=60)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)


class SkeletonSerializer(serializers.Serializer):
    bodyparts = BodyPartInSerializer(many=True, allow_empty=False)
    edges = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        required=False,
    )
    pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        required=False,
    )
    remove = serializers.ListField(child=serializers.CharField(), required=False)


class ProjectOutSerializer(serializers.ModelSerializer):
    skeleton = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    input_scale_effective = serializers.SerializerMethodField()
    input_scale_status = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at", "skeleton", "role", *LOOP_FIELDS,
                  "input_scale_auto", "input_scale_reason", "input_scale_effective",
                  "input_scale_status"]

    def get_skeleton(self, project: Project) -> dict:
        return skeleton_dict(project)

    def get_role(self, project: Project) -> str | None:
        return getattr(project, "current_role", None)

    def get_input_scale_effective(self, project: Project) -> float:
        from learning.training.runs import effective_input_scale

        return effective_input_scale(project)

    def get_input_scale_status(self, project: Project) -> str:
        from learning.training.runs import input_scale_status

        return input_scale_status(project)


class ProjectCreateSerializer(serializers.ModelSerializer):
    skeleton = SkeletonSerializer()

    class Meta:
        model = Project
        fields = ["name", "description", "skeleton", *LOOP_FIELDS]


class ProjectUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["name", "description", *LOOP_FIELDS]
        extra_kwargs = {f: {"required": False} for f in ["name", *LOOP_FIELDS]}

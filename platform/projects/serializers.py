"""API shapes of projects and skeletons."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from projects import animals
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

# How many animals a frame shows and whether they have names (issue 17).
ANIMAL_FIELDS = ["max_animals", "individuals"]


def check_animals(project: Project | None, attrs: dict) -> dict:
    """`projects.animals.check_animals` on the merged settings, as a 400. A new animal count
    without names drops the project's old names, which no longer fit."""
    max_animals = attrs.get("max_animals", project.max_animals if project else 1)
    individuals = attrs.get("individuals", project.individuals if project else [])
    if "max_animals" in attrs and "individuals" not in attrs and individuals \
            and len(individuals) != max_animals:
        individuals = attrs["individuals"] = []
    try:
        animals.check_animals(project, max_animals, list(individuals))
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None
    return attrs


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
                  *ANIMAL_FIELDS,
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
        fields = ["name", "description", "skeleton", *LOOP_FIELDS, *ANIMAL_FIELDS]

    def validate(self, attrs: dict) -> dict:
        return check_animals(None, attrs)


class ProjectUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["name", "description", *LOOP_FIELDS, *ANIMAL_FIELDS]
        extra_kwargs = {f: {"required": False} for f in ["name", *LOOP_FIELDS, *ANIMAL_FIELDS]}

    def validate(self, attrs: dict) -> dict:
        return check_animals(self.instance, attrs)

"""Explicit input and output serializers of the learning API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from jobs.serializers import JobSerializer
from learning.engine.config import BACKBONES
from learning.engine.distill import MAX_REPEAT, WEIGHTINGS
from learning.models import ModelVersion


class ModelVersionSerializer(serializers.ModelSerializer):
    n_labeled_frames = serializers.IntegerField(read_only=True)
    is_current = serializers.SerializerMethodField()
    n_images = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id", "iteration", "parent", "kind", "teacher", "status", "message", "trigger",
            "is_current",
            "n_labeled_frames", "metrics", "model_config", "train_config", "training_seconds",
            "device", "images_per_s", "data_share", "budget_minutes", "job", "n_images",
            "created_by", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    def get_is_current(self, version: ModelVersion) -> bool:
        return version.pk == self.context.get("current_id")

    def get_n_images(self, version: ModelVersion) -> int:
        return len(version.eval_images)


class CurrentModelSerializer(serializers.Serializer):
    """The contract other apps and clients rely on."""

    id = serializers.IntegerField()
    iteration = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    test_rmse_px = serializers.FloatField(allow_null=True)
    previous_test_rmse_px = serializers.FloatField(allow_null=True)


class TrainRequestSerializer(serializers.Serializer):
    minutes = serializers.FloatField(required=False, min_value=0.01, max_value=24 * 60)
    overrides = serializers.DictField(
        required=False, help_text='Model settings of this training: {"model": {...}, '
                                  '"train": {...}} (single-animal ModelConfig / TrainConfig '
                                  'keys; multi-animal: TopDownConfig keys under "model").')


class DistillRequestSerializer(serializers.Serializer):
    """A fast model of this version: the student's network and how it learns (defaults in
    `engine.distill.DistillConfig`)."""

    minutes = serializers.FloatField(required=False, min_value=0.01, max_value=24 * 60,
                                     help_text="Student training budget (default: the "
                                               "project's training budget).")
    backbone = serializers.ChoiceField(choices=BACKBONES, required=False)
    head_channels = serializers.IntegerField(required=False, min_value=8, max_value=512)
    input_scale = serializers.FloatField(required=False, min_value=0.1, max_value=2.0,
                                         help_text="Default: the teacher's.")
    frames = serializers.IntegerField(required=False, min_value=1, max_value=100_000,
                                      help_text="Unlabeled video frames the teacher labels.")
    min_confidence = serializers.FloatField(required=False, min_value=0.0, max_value=0.99)
    weighting = serializers.ChoiceField(choices=WEIGHTINGS, required=False)
    human_share = serializers.FloatField(
        required=False, min_value=0.05, max_value=0.95,
        help_text="Share of each epoch made of human labels (default 0.6).")
    human_repeat = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_REPEAT,
        help_text="Times each human label is seen per epoch (default: from human_share).")

    def options(self) -> dict[str, Any]:
        """The DistillConfig keys given (validated data without `minutes`)."""
        return {k: v for k, v in self.validated_data.items() if k != "minutes"}


class TrainStartedSerializer(serializers.Serializer):
    version = ModelVersionSerializer()
    job = JobSerializer()


class PredictedPointSerializer(serializers.Serializer):
    bodypart = serializers.IntegerField(help_text="BodyPart id, as in labels")
    name = serializers.CharField(help_text="BodyPart name")
    x = serializers.FloatField(allow_null=True)
    y = serializers.FloatField(allow_null=True)
    likelihood = serializers.FloatField(allow_null=True)


class PredictedInstanceSerializer(serializers.Serializer):
    track = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(allow_null=True)
    points = PredictedPointSerializer(many=True)


class PredictionSerializer(serializers.Serializer):
    """One animal's `points` (single-animal projects), or every animal's `instances`
    (multi-animal projects; then `points` is empty)."""

    model_version = serializers.IntegerField()
    points = PredictedPointSerializer(many=True)
    instances = PredictedInstanceSerializer(many=True, required=False)

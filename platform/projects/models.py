"""Projects and their skeleton: ordered body parts, edges, left/right pairs, loop settings."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

MAX_ANIMALS = 20


class SelectionStrategy(models.TextChoices):
    RANDOM = "random", "Random"
    KMEANS = "kmeans", "K-means diversity"
    UNCERTAINTY = "uncertainty", "Uncertainty"
    HYBRID = "hybrid", "Hybrid (uncertainty + diversity)"


class Backbone(models.TextChoices):
    RESNET18 = "resnet18", "ResNet-18"
    RESNET50 = "resnet50", "ResNet-50"
    MOBILENET_V3 = "mobilenet_v3_large", "MobileNetV3-Large"
    EFFICIENTNET_B0 = "efficientnet_b0", "EfficientNet-B0"


def validate_individuals(value: object) -> None:
    """Named individuals: a list of unique, non-empty names of at most 40 characters."""
    if not isinstance(value, list) or not all(
        isinstance(n, str) and n.strip() and len(n) <= 40 for n in value
    ):
        raise ValidationError("A list of names (non-empty, at most 40 characters each).")
    if len(set(value)) != len(value):
        raise ValidationError("Individual names must be unique.")


def validate_weights(value: object) -> None:
    """Acquisition weights: a mapping of score name to a number >= 0."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    ):
        raise ValidationError("A mapping of score name to a weight >= 0.")


class Project(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The loop's settings.
    retrain_after_labels = models.PositiveIntegerField(
        default=20, help_text="Retrain after this many new labels (0: off)."
    )
    retrain_every_hours = models.PositiveIntegerField(
        default=0, help_text="Also retrain on a schedule, every N hours (0: off)."
    )
    queue_size = models.PositiveIntegerField(default=50, validators=[MaxValueValidator(10_000)])
    selection_strategy = models.CharField(
        max_length=20, choices=SelectionStrategy.choices, default=SelectionStrategy.HYBRID
    )
    selection_batch_size = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    acquisition_weights = models.JSONField(default=dict, blank=True, validators=[validate_weights])
    double_label_fraction = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of frames labeled by two annotators (agreement).",
    )
    lease_minutes = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    backbone = models.CharField(max_length=40, choices=Backbone.choices, default=Backbone.RESNET18)
    input_scale = models.FloatField(
        null=True, blank=True, default=None,
        validators=[MinValueValidator(0.1), MaxValueValidator(2.0)],
        help_text="Images are resized by this factor before the network. Empty: automatic, "
                  "chosen from the labels when the first model is trained.",
    )
    # The automatic choice (learning.engine.scale), stored by the first training.
    input_scale_auto = models.FloatField(null=True, blank=True, editable=False)
    input_scale_reason = models.CharField(max_length=300, blank=True, editable=False)
    require_improvement = models.BooleanField(
        default=True, help_text="A new model becomes current only if it beats the current one."
    )
    student_tolerance_px = models.FloatField(
        default=0.3,
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="A fast (distilled) model analyses videos by default when its test error is "
                  "at most this many pixels above its teacher's.",
    )
    # Several animals per frame (issue 17). 1: a single-animal project, as before.
    max_animals = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_ANIMALS)],
        help_text="The most animals in one frame (1: a single-animal project).",
    )
    individuals = models.JSONField(
        default=list, blank=True, validators=[validate_individuals],
        help_text="Names of animals that can be told apart (one per animal, like DeepLabCut's "
                  "identity option); empty: anonymous animals, tracked by position.",
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def multi_animal(self) -> bool:
        """Several animals per frame: labels hold instances (annotation.instances)."""
        return self.max_animals > 1

    def clean(self) -> None:
        if self.individuals and len(self.individuals) != self.max_animals:
            raise ValidationError({"individuals": (
                f"Name every animal or none: {len(self.individuals)} names for at most "
                f"{self.max_animals} animals.")})

    def bodypart_names(self) -> list[str]:
        """Body part names in their order."""
        return [bp.name for bp in self.bodyparts.all()]


class BodyPart(models.Model):
    """A keypoint type. Labels refer to it by id, so renaming keeps them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="bodyparts")
    name = models.CharField(max_length=60)
    order = models.PositiveIntegerField()
    color = models.CharField(max_length=7, default="#e6194b")
    mirror = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Left/right partner, swapped by horizontal-flip augmentation.",
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_bodypart_name"),
        ]

    def __str__(self) -> str:
        return self.name


class SkeletonEdge(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(BodyPart, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(BodyPart, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="unique_skeleton_edge"),
        ]

    def __str__(self) -> str:
        return f"{self.source.name}–{self.target.name}"

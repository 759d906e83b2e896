"""Model versions of a project, the pointer to the current one, and the fixed test split."""

from __future__ import annotations

from typing import Any, TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Q


class SplitName(models.TextChoices):
    TRAIN = "train", "Train"
    TEST = "test", "Test"


class VersionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    EVALUATING = "evaluating", "Evaluating"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class VersionKind(models.TextChoices):
    STANDARD = "standard", "Standard"
    STUDENT = "student", "Fast (distilled)"
    TRANSFERRED = "transferred", "From another model"


# A project has at most one version in these states (the `one_active_training` index).
ACTIVE_STATUSES = (VersionStatus.QUEUED, VersionStatus.TRAINING, VersionStatus.EVALUATING)


class LabelSnapshot(TypedDict):
    """The labels a version was trained on: [label id, frame id, label version] triples."""

    labels: list[list[int]]
    frame_ids: list[int]
    test_frame_ids: list[int]
    max_revision_id: int


class VersionMetrics(TypedDict, total=False):
    """Evaluation results; pixel errors in original-image pixels, None where undefined."""

    train_rmse_px: float | None
    test_rmse_px: float | None
    train_rmse_pcutoff_px: float | None
    test_rmse_pcutoff_px: float | None
    test_pck: dict[str, float | None]
    per_bodypart_test_rmse_px: dict[str, float | None]
    per_bodypart_train_rmse_px: dict[str, float | None]
    n_train: int
    n_train_evaluated: int  # train samples the train errors were measured on (spread sample)
    n_test: int
    n_labels: int  # label rows (annotators × frames) in the snapshot
    n_labeled_points: int
    pcutoff: float
    current_test_rmse_px: float | None
    # Students (kind "student"): the teacher's error on the same test frames, the work per
    # frame of both networks, and how the teacher's pseudo-labels went.
    teacher_test_rmse_px: float | None
    gflop_per_frame: float
    teacher_gflop_per_frame: float
    distill: dict[str, Any]
    epochs: int
    stopped_by: str
    # One row per test frame, worst first in the eval images: frame_id, rmse_px,
    # likelihoods (one per body part), image (index into eval_images or None).
    per_frame_test: list[dict[str, Any]]


def checkpoint_path(version: ModelVersion, filename: str) -> str:
    return f"projects/{version.project_id}/models/{version.pk}/{filename}"


class ModelVersion(models.Model):
    """One trained (or training) model of a project; `iteration` counts up from 1."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="model_versions"
    )
    iteration = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
        help_text="The model this one was warm-started from.",
    )
    kind = models.CharField(
        max_length=12, choices=VersionKind.choices, default=VersionKind.STANDARD,
        help_text="student: a small network distilled from `teacher` for fast analysis; "
                  "transferred: adopted from another project or the zoo (no training here).",
    )
    teacher = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="students",
        help_text="The model whose predictions this student learned from.",
    )
    status = models.CharField(
        max_length=12, choices=VersionStatus.choices, default=VersionStatus.QUEUED
    )
    message = models.CharField(max_length=500, blank=True)
    label_snapshot = models.JSONField(default=dict, blank=True)
    model_config = models.JSONField(default=dict, blank=True)
    train_config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="Per-epoch losses.")
    checkpoint = models.FileField(upload_to=checkpoint_path, max_length=500, blank=True)
    eval_images = models.JSONField(
        default=list, blank=True, help_text="Storage names of the evaluation PNGs."
    )
    training_seconds = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=40, blank=True)
    images_per_s = models.FloatField(null=True, blank=True)
    data_share = models.FloatField(null=True, blank=True)
    budget_minutes = models.FloatField(null=True, blank=True)
    trigger = models.CharField(max_length=20, blank=True, help_text="manual, labels, schedule.")
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-iteration"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "iteration"], name="unique_model_iteration"
            ),
            models.UniqueConstraint(
                fields=["project"], condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_training",
            ),
        ]

    def __str__(self) -> str:
        return f"model {self.iteration} of project {self.project_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_student(self) -> bool:
        return self.kind == VersionKind.STUDENT

    @property
    def n_labeled_frames(self) -> int:
        return len(self.label_snapshot.get("frame_ids", []))


class CurrentModel(models.Model):
    """The project's current model: the one predictions and frame selection use."""

    project = models.OneToOneField(
        "projects.Project", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"current model of project {self.project_id}: {self.version_id}"


class SplitAssignment(models.Model):
    """A labeled frame's fixed place in the train or test split; assigned once, never moved."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="split_assignments"
    )
    frame = models.OneToOneField("videos.Frame", on_delete=models.CASCADE, related_name="+")
    split = models.CharField(max_length=5, choices=SplitName.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame_id"]
        indexes = [models.Index(fields=["project", "split"], name="split_project_split")]

    def __str__(self) -> str:
        return f"frame {self.frame_id}: {self.split}"


class TrackSwap(models.Model):
    """A PI's fix of an identity swap in a multi-animal analysis: tracks `track_a` and
    `track_b` trade places from `frame` on. Applied in id order whenever the analysis'
    tables are written; kept (never edited) so the edits can be reviewed."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="+")
    analysis_id = models.PositiveIntegerField(help_text="The analysis (its job id).")
    frame = models.PositiveIntegerField()
    track_a = models.CharField(max_length=40)
    track_b = models.CharField(max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["analysis_id", "id"]
        indexes = [models.Index(fields=["video", "analysis_id"], name="trackswap_analysis")]

    def __str__(self) -> str:
        return f"swap {self.track_a}/{self.track_b} from frame {self.frame}"


from learning.zoo.models import ZooEntry  # noqa: E402,F401  (the zoo's model, in this app)

"""Queue entries, labels with their full history, reviews and per-body-part agreement.

The annotation app never imports the learning app: a model version is kept as a plain id.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class PointState(models.TextChoices):
    VISIBLE = "visible", "Visible"
    OCCLUDED = "occluded", "Occluded"
    ABSENT = "absent", "Absent"


class Point(TypedDict):
    """One body part of a label, in original image pixels (pixel centers at integers)."""

    bodypart: int
    x: float | None
    y: float | None
    state: Literal["visible", "occluded", "absent"]


class QueueReason(models.TextChoices):
    DIVERSITY = "diversity", "Diversity"
    UNCERTAINTY = "uncertainty", "Uncertainty"
    TEMPORAL = "temporal", "Temporal inconsistency"
    SKELETON = "skeleton", "Skeleton implausibility"
    MANUAL = "manual", "Added by hand"
    REVIEW = "review", "Sent back by review"
    AGREEMENT = "agreement", "Annotators disagree"
    VIEWS_3D = "views_3d", "3D views disagree"
    ANIMALS = "animals", "Missed or merged animals"
    TOUCHING = "touching", "Animals touching"
    ASSIGNMENT = "assignment", "Ambiguous assignment"


class EntryStatus(models.TextChoices):
    OPEN = "open", "Open"
    LEASED = "leased", "Leased"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FLAGGED = "flagged", "Flagged unusable"
    REMOVED = "removed", "Removed"


LIVE_STATUSES = (EntryStatus.OPEN, EntryStatus.LEASED)


class QueueEntry(models.Model):
    """A frame waiting to be labeled. At most one live (open or leased) entry per frame."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="queue_entries"
    )
    frame = models.ForeignKey(
        "videos.Frame", on_delete=models.CASCADE, related_name="queue_entries"
    )
    priority = models.FloatField(default=0.0)
    reason = models.CharField(max_length=12, choices=QueueReason.choices)
    components = models.JSONField(default=dict, blank=True, help_text="Score name → value.")
    model_version_id = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=EntryStatus.choices, default=EntryStatus.OPEN)
    status_note = models.CharField(max_length=500, blank=True, help_text="Why skipped/flagged.")
    leased_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(default=False)
    labels_required = models.PositiveSmallIntegerField(default=1)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Only this user may lease it (a rejected label's annotator).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pinned", "-priority", "id"]
        verbose_name_plural = "queue entries"
        constraints = [
            models.UniqueConstraint(
                fields=["frame"], condition=Q(status__in=LIVE_STATUSES),
                name="one_live_entry_per_frame",
            ),
            models.UniqueConstraint(
                fields=["project", "leased_to"], condition=Q(status=EntryStatus.LEASED),
                name="one_lease_per_user",
            ),
            models.CheckConstraint(
                condition=Q(labels_required__in=[1, 2]), name="labels_required_1_or_2"
            ),
            models.CheckConstraint(
                condition=~Q(status=EntryStatus.LEASED)
                | Q(leased_to__isnull=False, lease_expires_at__isnull=False),
                name="leased_has_holder",
            ),
        ]
        indexes = [
            models.Index(
                "project", F("pinned").desc(), F("priority").desc(), "id",
                condition=Q(status__in=LIVE_STATUSES), name="queue_live_order",
            ),
            models.Index(fields=["project", "status"], name="queue_project_status"),
        ]

    def __str__(self) -> str:
        return f"queue entry {self.pk} (frame {self.frame_id}, {self.status})"


class LabelSource(models.TextChoices):
    HUMAN = "human", "Placed by hand"
    IMPORTED = "imported", "Imported"
    CORRECTED_PREDICTION = "corrected_prediction", "Corrected prediction"
    CORRECTED = "corrected", "Corrected by a reviewer"


class LabelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


# Labels that count: for training, consensus, agreement and queue completion.
COUNTED_STATUSES = (LabelStatus.SUBMITTED, LabelStatus.ACCEPTED)


class Label(models.Model):
    """One annotator's keypoints for one frame; `version` grows by one with every save."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="labels")
    frame = models.ForeignKey("videos.Frame", on_delete=models.CASCADE, related_name="labels")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labels"
    )
    version = models.PositiveIntegerField(default=1)
    points = models.JSONField(default=list, help_text="list[Point] in body-part order.")
    source = models.CharField(max_length=20, choices=LabelSource.choices, default=LabelSource.HUMAN)
    status = models.CharField(max_length=10, choices=LabelStatus.choices, default=LabelStatus.DRAFT)
    seconds_spent = models.FloatField(default=0.0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["frame_id", "annotator_id"]
        constraints = [
            models.UniqueConstraint(fields=["frame", "annotator"], name="one_label_per_annotator"),
            models.CheckConstraint(condition=Q(version__gte=1), name="label_version_positive"),
        ]
        indexes = [
            models.Index(fields=["project", "status", "updated_at"], name="label_project_status"),
            models.Index(fields=["project", "annotator", "submitted_at"], name="label_annotator"),
        ]

    def __str__(self) -> str:
        return f"label {self.pk} v{self.version} (frame {self.frame_id})"


class LabelRevision(models.Model):
    """Append-only: every save of a label, whoever made it. Never updated or deleted."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    points = models.JSONField()
    source = models.CharField(max_length=20, choices=LabelSource.choices)
    status = models.CharField(max_length=10, choices=LabelStatus.choices)
    seconds_spent = models.FloatField(default=0.0)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField()
    request_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["label_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["label", "version"], name="one_revision_per_version"),
            models.UniqueConstraint(
                fields=["label", "request_id"], condition=Q(request_id__isnull=False),
                name="one_revision_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"label {self.label_id} v{self.version}"


class ReviewDecision(models.TextChoices):
    ACCEPT = "accept", "Accept"
    CORRECT = "correct", "Correct"
    REJECT = "reject", "Reject"


class Review(models.Model):
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="reviews")
    label_version = models.PositiveIntegerField(help_text="The version that was reviewed.")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} of label {self.label_id}"


class AgreementRecord(models.Model):
    """Mean pixel distance between annotators for one body part of one double-labeled frame."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="agreement_records"
    )
    frame = models.ForeignKey("videos.Frame", on_delete=models.CASCADE, related_name="+")
    bodypart = models.ForeignKey("projects.BodyPart", on_delete=models.CASCADE, related_name="+")
    mean_distance_px = models.FloatField()
    n_pairs = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["frame_id", "bodypart_id"]
        constraints = [
            models.UniqueConstraint(fields=["frame", "bodypart"], name="one_agreement_per_part"),
        ]
        indexes = [models.Index(fields=["project", "bodypart"], name="agreement_project_part")]

    def __str__(self) -> str:
        return f"frame {self.frame_id} / {self.bodypart_id}: {self.mean_distance_px:.2f}px"

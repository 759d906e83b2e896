"""Long-running work (extraction, training, scoring, analysis, export) and its progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JobKind(models.TextChoices):
    EXTRACT_FRAMES = "extract_frames", "Frame extraction"
    TRAIN = "train", "Training"
    DISTILL = "distill", "Fast model (distillation)"
    SCORE = "score", "Uncertainty scoring"
    ANALYZE = "analyze", "Video analysis"
    CALIBRATE = "calibrate", "Camera calibration"
    TRIANGULATE = "triangulate", "3D triangulation"
    SCORE_3D = "score_3d", "3D-consistency scoring"
    EXPORT = "export", "Export"
    IMPORT = "import", "Import"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1")
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last handed to the broker"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class WorkerHeartbeat(models.Model):
    """Last time a Celery worker answered, and the queues it consumes (jobs.worker)."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()
    queues = models.JSONField(default=list, blank=True, help_text="[] when unknown")

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"

"""Camera rigs, their calibrations, and multi-camera sessions (one video per camera).

A rig is a named set of cameras with a calibration board; a calibration is computed from one
board recording per camera (or imported from anipose's calibration.toml) and every later
session of the rig reuses the newest ready one. A session ties the project's videos of one
moment together, one per camera, with an optional frame offset per camera; a triangulation
turns the views' 2D poses into one 3D pose table.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Rig(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rigs")
    name = models.CharField(max_length=120)
    cameras = models.JSONField(default=list, help_text="Camera names, in order.")
    board = models.JSONField(
        default=dict, blank=True, help_text="The calibration board, as anipose's board.toml."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_rig_name"),
        ]

    def __str__(self) -> str:
        return f"rig {self.name} of project {self.project_id}"

    def current_calibration(self) -> Calibration | None:
        """The newest ready calibration: the one sessions of the rig use."""
        return self.calibrations.filter(status=CalibrationStatus.READY).order_by("-id").first()


class CalibrationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class CalibrationSource(models.TextChoices):
    BOARD = "board", "Board recordings"
    IMPORTED = "imported", "Imported calibration.toml"


class Calibration(models.Model):
    """One calibration of a rig: cameras' intrinsics, distortion and poses, and its quality."""

    rig = models.ForeignKey(Rig, on_delete=models.CASCADE, related_name="calibrations")
    status = models.CharField(
        max_length=10, choices=CalibrationStatus.choices, default=CalibrationStatus.QUEUED
    )
    source = models.CharField(max_length=10, choices=CalibrationSource.choices)
    message = models.CharField(max_length=500, blank=True)
    board = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(
        default=dict, blank=True, help_text="Camera name → storage name of its board recording."
    )
    cameras = models.JSONField(
        default=list, blank=True,
        help_text="Per camera: name, size, matrix, distortions, rotation, translation.",
    )
    reprojection_px = models.JSONField(
        default=dict, blank=True, help_text="Camera name → median/mean board-corner error."
    )
    files = models.JSONField(
        default=dict, blank=True, help_text="calibration.toml and one diagnostic image per camera."
    )
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rig", "-id"]

    def __str__(self) -> str:
        return f"calibration {self.pk} of rig {self.rig_id} ({self.status})"

    @property
    def folder(self) -> str:
        return f"projects/{self.rig.project_id}/rigs/{self.rig_id}/calibrations/{self.pk}"


class Session(models.Model):
    """Recordings of one moment by every camera of a rig (one project video per camera)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="camera_sessions"
    )
    rig = models.ForeignKey(Rig, on_delete=models.PROTECT, related_name="sessions")
    name = models.CharField(max_length=120)
    frame_count = models.PositiveIntegerField(help_text="Synchronized frames (after offsets).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_session_name"),
        ]

    def __str__(self) -> str:
        return f"session {self.name} of project {self.project_id}"


class SessionView(models.Model):
    """One camera's video in a session; session frame t is video frame t + offset."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="views")
    camera = models.CharField(max_length=60)
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="+")
    offset = models.PositiveIntegerField(default=0)
    poses = models.FileField(
        max_length=500, blank=True,
        help_text="Uploaded 2D poses for this view (SLEAP or pose table), used instead of an "
                  "analysis when present.",
    )

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "camera"], name="unique_session_camera"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} of session {self.session_id}"


class Triangulation(models.Model):
    """A 3D pose table of a session: the views' 2D poses triangulated with a calibration."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="triangulations")
    calibration = models.ForeignKey(Calibration, on_delete=models.PROTECT, related_name="+")
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True)
    sources = models.JSONField(
        default=dict, blank=True, help_text="Camera → where its 2D poses came from."
    )
    bodyparts = models.JSONField(default=list, blank=True)
    frames = models.PositiveIntegerField(default=0)
    reprojection_px = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=list, blank=True, help_text="Storage names of the tables.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "-id"]

    def __str__(self) -> str:
        return f"triangulation {self.pk} of session {self.session_id}"

    @property
    def folder(self) -> str:
        return f"projects/{self.session.project_id}/sessions/{self.session_id}/3d/{self.pk}"

    def summary(self) -> dict[str, Any]:
        return {"frames": self.frames, "reprojection_px": self.reprojection_px}

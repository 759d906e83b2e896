"""Videos of a project and the frames taken from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def video_upload_path(video: Video, filename: str) -> str:
    return f"projects/{video.project_id}/videos/{video.sha256[:16]}/{filename}"


def frame_upload_path(frame: Frame, filename: str) -> str:
    return f"projects/{frame.project_id}/frames/{filename}"


class Video(models.Model):
    """A validated video: stored in media storage, or registered from a server path."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="videos")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=video_upload_path, max_length=500, blank=True)
    source_path = models.CharField(
        max_length=1000, blank=True, help_text="Absolute server path for registered videos."
    )
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    fps = models.FloatField()
    frame_count = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    codec = models.CharField(max_length=16, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="unique_video_per_project"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0

    def local_path(self) -> str:
        """A path OpenCV can open: the server path, or the stored file on local storage."""
        if self.source_path:
            return self.source_path
        return self.file.path


class FrameOrigin(models.TextChoices):
    EXTRACTED = "extracted", "Extracted from a video"
    IMPORTED = "imported", "Imported image"
    SELECTED = "selected", "Selected by active learning"


class FrameQuerySet(models.QuerySet):
    def live(self) -> FrameQuerySet:
        """Frames whose video is not soft-deleted (imported images have no video)."""
        return self.filter(models.Q(video__isnull=True) | models.Q(video__deleted_at__isnull=True))


class Frame(models.Model):
    """One image to label: a frame of a video (index kept) or an imported image."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="frames")
    video = models.ForeignKey(
        Video, null=True, blank=True, on_delete=models.CASCADE, related_name="frames"
    )
    frame_index = models.PositiveIntegerField(null=True, blank=True)
    image = models.ImageField(upload_to=frame_upload_path, max_length=500)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    origin = models.CharField(max_length=12, choices=FrameOrigin.choices)
    external_path = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where an imported image came from, e.g. labeled-data/m4s1/img0001.png.",
    )
    extraction_strategy = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FrameQuerySet.as_manager()

    class Meta:
        ordering = ["video_id", "frame_index", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["video", "frame_index"],
                condition=models.Q(video__isnull=False),
                name="unique_frame_of_video",
            ),
            models.UniqueConstraint(
                fields=["project", "external_path"],
                condition=~models.Q(external_path=""),
                name="unique_imported_frame",
            ),
        ]

    def __str__(self) -> str:
        if self.video_id is not None:
            return f"{self.video} #{self.frame_index}"
        return self.external_path or f"frame {self.pk}"

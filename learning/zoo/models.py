"""A published model of the lab's zoo: metadata plus its own copy of the checkpoint."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Visibility(models.TextChoices):
    SITE = "site", "Everyone on this server"
    PROJECTS = "projects", "Members of the named projects"


def zoo_checkpoint_name(entry: ZooEntry, filename: str) -> str:
    return f"zoo/{entry.pk or 'new'}/{filename}"


class ZooEntry(models.Model):
    """A model anyone allowed may adopt into a project, analyse with, or start a project from."""

    name = models.CharField(max_length=120)
    species = models.CharField(max_length=80, blank=True)
    camera_view = models.CharField(max_length=80, blank=True, help_text="e.g. top, side.")
    bodyparts = models.JSONField(default=list, help_text="Body part names, in output order.")
    skeleton = models.JSONField(default=list, blank=True, help_text="Edges: [name, name] pairs.")
    pairs = models.JSONField(default=list, blank=True, help_text="Left/right [name, name] pairs.")
    n_labels = models.PositiveIntegerField(default=0)
    test_rmse_px = models.FloatField(null=True, blank=True)
    notes = models.TextField(blank=True)
    licence = models.CharField(max_length=120, blank=True)
    checkpoint = models.FileField(upload_to=zoo_checkpoint_name, max_length=500)
    checkpoint_sha256 = models.CharField(max_length=64, blank=True)
    model_config = models.JSONField(default=dict)
    source_version = models.ForeignKey(
        "learning.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="zoo_entries",
    )
    source = models.CharField(max_length=300, blank=True,
                              help_text="Where it came from (project/version, or 'imported').")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices,
                                  default=Visibility.SITE)
    projects = models.ManyToManyField("projects.Project", blank=True, related_name="zoo_entries",
                                      help_text="Who sees a 'projects' entry.")

    class Meta:
        app_label = "learning"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"zoo entry {self.pk}: {self.name}"

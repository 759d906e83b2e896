"""(h) backup → wipe → restore gives back the same rows and the same media bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command

from annotation.models import Label, LabelRevision
from poseloop.backups import BackupError, restore_backup
from projects.models import Project
from tests.annotation.factories import FrameFactory, LabelFactory
from videos.models import Frame


def _media() -> dict[str, bytes]:
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_round_trip(project, users, tmp_path):
    frame = Frame(project=project, width=8, height=8, origin="imported", external_path="a.png")
    frame.image.save("a.png", ContentFile(b"\x89PNG frame bytes"), save=True)
    label = LabelFactory(frame=frame, annotator=users["annotator"])
    LabelRevision.objects.create(label=label, version=1, points=label.points, source="human",
                                 status="submitted", saved_at=label.updated_at)
    before = {"projects": list(Project.objects.values_list("name", flat=True)),
              "labels": list(Label.objects.values_list("frame_id", "annotator__username",
                                                       "points", "version")),
              "revisions": LabelRevision.objects.count(), "media": _media()}
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", str(archive))
    assert archive.stat().st_size > 0

    Project.objects.all().delete()
    for path in Path(settings.MEDIA_ROOT).rglob("*"):
        if path.is_file():
            path.unlink()
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(archive)  # users still exist: refusing to merge
    call_command("restore", str(archive), "--replace")

    assert list(Project.objects.values_list("name", flat=True)) == before["projects"]
    assert list(Label.objects.values_list("frame_id", "annotator__username", "points",
                                          "version")) == before["labels"]
    assert LabelRevision.objects.count() == before["revisions"]
    assert _media() == before["media"]


@pytest.mark.django_db(transaction=True)
def test_a_damaged_archive_changes_nothing(project, tmp_path):
    FrameFactory(project=project)
    archive = tmp_path / "b.tar.gz"
    call_command("backup", str(archive))
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(BackupError):
        restore_backup(broken, replace=True)
    assert Project.objects.filter(pk=project.pk).exists()
    assert Frame.objects.filter(project=project).count() == 1

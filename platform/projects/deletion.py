"""Soft delete for projects and videos: hidden at once, restorable for a grace period, then purged.

A deleted row keeps everything (labels, frames, models, media); only `deleted_at` is set, and
every query that lists projects or videos filters `deleted_at__isnull=True`. After
`settings.DELETE_GRACE_DAYS` the purge removes the rows (cascading) and the media under
`projects/<id>/`.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership, Role
from projects.models import Project
from videos.models import Video

logger = logging.getLogger(__name__)


def grace_period() -> timedelta:
    """How long a deleted project or video can still be restored."""
    return timedelta(days=settings.DELETE_GRACE_DAYS)


def _may_manage(user: AbstractBaseUser, project: Project) -> bool:
    """Staff, or the project's PI (membership is read directly: the project may be deleted)."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    return Membership.objects.filter(user=user, project=project, role=Role.PI).exists()


def delete_project(project: Project, user: AbstractBaseUser, confirm: str,
                   now: datetime | None = None) -> Project:
    """Soft-delete the project; `confirm` must repeat its name exactly (ValidationError else).

    A conditional UPDATE on `deleted_at IS NULL`, so two deletes never move the timestamp.
    """
    if not _may_manage(user, project):
        raise PermissionDenied("Only the project's PI or staff can delete it.")
    if confirm != project.name:
        raise ValidationError({"confirm": "Type the project's exact name to delete it."})
    now = now or timezone.now()
    Project.objects.filter(pk=project.pk, deleted_at__isnull=True).update(deleted_at=now)
    project.refresh_from_db(fields=["deleted_at"])
    logger.info("project %s deleted by %s", project.pk, user.pk)
    return project


def deleted_project_for(user: AbstractBaseUser, project_id: int) -> Project:
    """A deleted project the user may restore; 404 when it is live, absent, or not theirs."""
    project = Project.objects.filter(pk=project_id, deleted_at__isnull=False).first()
    if project is None or not _may_manage(user, project):
        raise Http404("No such deleted project.")
    return project


def restore_project(project: Project, now: datetime | None = None) -> Project:
    """Undo a soft delete within the grace period (ValidationError after it).

    Conditional UPDATE on the deletion time still being inside the grace period, so a purge
    running at the same moment and a restore cannot both succeed.
    """
    now = now or timezone.now()
    restored = Project.objects.filter(
        pk=project.pk, deleted_at__isnull=False, deleted_at__gt=now - grace_period()
    ).update(deleted_at=None)
    if restored != 1:
        raise ValidationError("The grace period is over; the project can no longer be restored.")
    project.deleted_at = None
    return project


def delete_video(video: Video, user: AbstractBaseUser, now: datetime | None = None) -> Video:
    """Soft-delete a video (PI or staff); its frames and labels are kept for a restore."""
    if not _may_manage(user, video.project):
        raise PermissionDenied("Only the project's PI or staff can delete videos.")
    Video.objects.filter(pk=video.pk, deleted_at__isnull=True).update(
        deleted_at=now or timezone.now())
    video.refresh_from_db(fields=["deleted_at"])
    return video


def restore_video(video: Video, now: datetime | None = None) -> Video:
    """Undo a video's soft delete within the grace period (conditional UPDATE)."""
    now = now or timezone.now()
    restored = Video.objects.filter(
        pk=video.pk, deleted_at__isnull=False, deleted_at__gt=now - grace_period()
    ).update(deleted_at=None)
    if restored != 1:
        raise ValidationError("The grace period is over; the video can no longer be restored.")
    video.deleted_at = None
    return video


def _delete_media_tree(prefix: str) -> int:
    """Delete every stored file under `prefix` (any storage backend); returns the count."""
    if not default_storage.exists(prefix):
        return 0
    folders, files = default_storage.listdir(prefix)
    count = 0
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
        count += 1
    for folder in folders:
        count += _delete_media_tree(f"{prefix}/{folder}")
    if hasattr(default_storage, "path"):  # local storage: remove the now empty folders
        try:
            path = default_storage.path(prefix)
        except NotImplementedError:
            return count
        shutil.rmtree(path, ignore_errors=True)
    return count


def _video_media(video: Video) -> list[str]:
    names = [video.file.name] if video.file else []
    names += [name for name in video.frames.values_list("image", flat=True) if name]
    return names


def purge_expired(now: datetime | None = None) -> dict[str, int]:
    """Remove projects and videos deleted longer ago than the grace period, with their media.

    Rows go in one transaction per object; files are removed only after it commits, so a
    failed purge never leaves rows that point at missing files.
    """
    cutoff = (now or timezone.now()) - grace_period()
    counts = {"projects": 0, "videos": 0, "files": 0}
    for project_id in list(Project.objects.filter(deleted_at__lte=cutoff)
                           .values_list("pk", flat=True)):
        with transaction.atomic():
            # Re-checked under the row lock: a restore may have won the race.
            if not Project.objects.select_for_update().filter(
                    pk=project_id, deleted_at__lte=cutoff).exists():
                continue
            Project.objects.filter(pk=project_id).delete()
        counts["projects"] += 1
        counts["files"] += _delete_media_tree(f"projects/{project_id}")
    for video in list(Video.objects.filter(deleted_at__lte=cutoff)):
        names = _video_media(video)
        with transaction.atomic():
            if not Video.objects.select_for_update().filter(
                    pk=video.pk, deleted_at__lte=cutoff).exists():
                continue
            Video.objects.filter(pk=video.pk).delete()
        counts["videos"] += 1
        for name in names:
            if default_storage.exists(name):
                default_storage.delete(name)
                counts["files"] += 1
    return counts

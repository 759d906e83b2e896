"""Counts for the labeling page's progress bar."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from annotation.models import COUNTED_STATUSES, EntryStatus, Label, QueueEntry
from annotation.queue import claimable
from projects.models import Project


class Progress(TypedDict):
    mine_today: int
    mine_total: int
    project_labeled_frames: int
    queue_open: int
    queue_leased: int


def progress_for(project: Project, user: AbstractBaseUser, now: datetime | None = None) -> Progress:
    """The user's submitted labels (today, in TIME_ZONE, and in total), the project's labeled
    frames, and queue entries open (expired leases included) or leased right now."""
    now = now or timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    counted = Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
    mine = counted.filter(annotator=user)
    entries = QueueEntry.objects.filter(project=project)
    return {
        "mine_today": mine.filter(submitted_at__gte=start_of_day).count(),
        "mine_total": mine.count(),
        "project_labeled_frames": counted.values("frame_id").distinct().count(),
        "queue_open": entries.filter(claimable(now)).count(),
        "queue_leased": entries.filter(status=EntryStatus.LEASED, lease_expires_at__gt=now).count(),
    }

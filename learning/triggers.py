"""When to retrain: after N new labels (annotation's labels_changed) and on a schedule.

Schedules are django_celery_beat PeriodicTasks, one per project with retrain_every_hours > 0,
named SCHEDULE_PREFIX + project id and kept in sync by a post_save receiver on Project.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from annotation.models import COUNTED_STATUSES, Label, LabelRevision
from learning.errors import Conflict
from learning.models import ModelVersion, VersionStatus
from learning.training import active_version, start_training
from projects.models import Project

logger = logging.getLogger(__name__)

SCHEDULE_PREFIX = "learning.retrain.project-"
SCHEDULED_TASK = "learning.tasks.train_scheduled_task"


def last_snapshot_version(project_id: int) -> ModelVersion | None:
    """The newest version that recorded its training labels (failed ones too: a failing
    training is not retried on every label, only after N more)."""
    return (ModelVersion.objects.filter(project_id=project_id)
            .exclude(status__in=[VersionStatus.QUEUED, VersionStatus.CANCELLED])
            .exclude(label_snapshot={}).order_by("-iteration").first())


def new_labels_since_last_model(project_id: int, up_to: int | None = None) -> int:
    """Counted labels saved (new or changed) after the last model's snapshot was taken.

    With `up_to`, counting stops there (enough to compare with a threshold: the check after
    every submitted label then costs the same however many labels the project has).
    """
    labels = Label.objects.filter(project_id=project_id, status__in=COUNTED_STATUSES)
    last = last_snapshot_version(project_id)
    if last is not None:
        after = last.label_snapshot.get("max_revision_id", 0)
        labels = labels.filter(Exists(LabelRevision.objects.filter(label=OuterRef("pk"),
                                                                  id__gt=after)))
    labels = labels.order_by()
    return labels[:up_to].count() if up_to is not None else labels.count()


def _start(project: Project, trigger: str) -> ModelVersion | None:
    try:
        return start_training(project, trigger=trigger)
    except (Conflict, ValidationError) as exc:
        logger.info("no %s retraining of project %s: %s", trigger, project.pk, exc)
        return None


def maybe_retrain(project_id: int) -> ModelVersion | None:
    """Start a training once retrain_after_labels new labels arrived and none is running."""
    project = Project.objects.filter(pk=project_id, deleted_at__isnull=True).first()
    if project is None or project.retrain_after_labels <= 0:
        return None
    if active_version(project_id) is not None:
        return None
    threshold = project.retrain_after_labels
    if new_labels_since_last_model(project_id, up_to=threshold) < threshold:
        return None
    return _start(project, "labels")


def scheduled_retrain(project_id: int) -> ModelVersion | None:
    """The periodic retraining: train if any label is new since the last model."""
    project = Project.objects.filter(pk=project_id, deleted_at__isnull=True).first()
    if project is None or active_version(project_id) is not None:
        return None
    if last_snapshot_version(project_id) is not None and not new_labels_since_last_model(
            project_id, up_to=1):
        return None
    return _start(project, "schedule")


def on_labels_changed(sender: Any, *, project_id: int, **kwargs: Any) -> None:
    """Receiver of annotation.signals.labels_changed (sent after commit).

    A failing trigger must not turn a saved label into an error answer: it is logged.
    """
    try:
        maybe_retrain(project_id)
    except Exception:
        logger.exception("retrain trigger failed for project %s", project_id)


def sync_schedule(project: Project) -> PeriodicTask | None:
    """Create, update or remove the project's PeriodicTask to match retrain_every_hours.

    Atomic; the PeriodicTask's unique name makes a concurrent double create fail loudly
    rather than duplicate the schedule.
    """
    name = f"{SCHEDULE_PREFIX}{project.pk}"
    hours = project.retrain_every_hours
    with transaction.atomic():
        if hours <= 0 or project.deleted_at is not None:
            PeriodicTask.objects.filter(name=name).delete()
            return None
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=hours, period=IntervalSchedule.HOURS)
        task, _ = PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": SCHEDULED_TASK, "interval": interval,
                      "args": json.dumps([project.pk]), "enabled": True,
                      "description": f"Retrain {project.name} every {hours} h"},
        )
    return task


def on_project_saved(sender: Any, instance: Project, **kwargs: Any) -> None:
    """post_save receiver on Project."""
    if kwargs.get("raw"):
        return
    sync_schedule(instance)


def on_project_deleted(sender: Any, instance: Project, **kwargs: Any) -> None:
    """post_delete receiver on Project."""
    PeriodicTask.objects.filter(name=f"{SCHEDULE_PREFIX}{instance.pk}").delete()

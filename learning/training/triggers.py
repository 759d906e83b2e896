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
from django.db.models import Exists, IntegerField, OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from annotation.models import COUNTED_STATUSES, Label, LabelRevision
from learning.errors import Conflict
from learning.models import ACTIVE_STATUSES, ModelVersion, VersionStatus
from learning.training.runs import active_version, start_training
from projects.models import Project

logger = logging.getLogger(__name__)

SCHEDULE_PREFIX = "learning.retrain.project-"
SCHEDULED_TASK = "learning.tasks.train_scheduled_task"


def _snapshots(project_id: int | Any) -> Any:
    """Versions that recorded their training labels, newest first (failed ones too: a failing
    training is not retried on every label, only after N more)."""
    return (ModelVersion.objects.filter(project_id=project_id)
            .exclude(status__in=[VersionStatus.QUEUED, VersionStatus.CANCELLED])
            .exclude(label_snapshot={}).order_by("-iteration"))


def last_snapshot_version(project_id: int) -> ModelVersion | None:
    """The newest version that recorded its training labels."""
    return _snapshots(project_id).first()


def _count_new_labels(project_id: int, after: int | None, up_to: int | None) -> int:
    """Counted labels with a revision after revision id `after` (all of them when None)."""
    labels = Label.objects.filter(project_id=project_id, status__in=COUNTED_STATUSES)
    if after is not None:
        labels = labels.filter(Exists(LabelRevision.objects.filter(label=OuterRef("pk"),
                                                                  id__gt=after)))
    labels = labels.order_by()
    return labels[:up_to].count() if up_to is not None else labels.count()


def new_labels_since_last_model(project_id: int, up_to: int | None = None) -> int:
    """Counted labels saved (new or changed) after the last model's snapshot was taken.

    With `up_to`, counting stops there (enough to compare with a threshold: the check after
    every submitted label then costs the same however many labels the project has).
    """
    last = last_snapshot_version(project_id)
    after = None if last is None else int(last.label_snapshot.get("max_revision_id", 0))
    return _count_new_labels(project_id, after, up_to)


def _start(project: Project, trigger: str) -> ModelVersion | None:
    try:
        return start_training(project, trigger=trigger)
    except (Conflict, ValidationError) as exc:
        logger.info("no %s retraining of project %s: %s", trigger, project.pk, exc)
        return None


def maybe_retrain(project_id: int) -> ModelVersion | None:
    """Start a training once retrain_after_labels new labels arrived and none is running.

    Runs after every submitted label, so the project, "is a training active?" and the last
    snapshot come in one query, and the count stops at the threshold.
    """
    active = ModelVersion.objects.filter(project_id=OuterRef("pk"), status__in=ACTIVE_STATUSES)
    last = (_snapshots(OuterRef("pk"))
            .annotate(after=Cast(KeyTextTransform("max_revision_id", "label_snapshot"),
                                 IntegerField()))
            .values("after")[:1])
    state = (Project.objects.filter(pk=project_id, deleted_at__isnull=True,
                                    retrain_after_labels__gt=0)
             .annotate(busy=Exists(active), after=Subquery(last))
             .values("retrain_after_labels", "busy", "after").first())
    if state is None or state["busy"]:
        return None
    threshold = state["retrain_after_labels"]
    after = state["after"]
    if _count_new_labels(project_id, None if after is None else int(after), threshold) < threshold:
        return None
    project = Project.objects.get(pk=project_id)
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

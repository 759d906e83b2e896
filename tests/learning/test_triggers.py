import json

import pytest
from django_celery_beat.models import PeriodicTask

from annotation.signals import labels_changed
from learning.models import ModelVersion, VersionStatus
from learning.training.datasets import label_snapshot
from learning.training.triggers import (
    SCHEDULE_PREFIX,
    maybe_retrain,
    new_labels_since_last_model,
    scheduled_retrain,
)

pytestmark = pytest.mark.django_db


def test_retrain_after_n_new_labels(project, labeled_frames):
    project.retrain_after_labels = 5
    project.save()
    labeled_frames(project, 4)
    assert maybe_retrain(project.pk) is None
    labeled_frames(project, 1, seed=1)
    labels_changed.send(sender=None, project_id=project.pk, frame_id=0, annotator_id=0)
    version = ModelVersion.objects.get(project=project)
    assert version.trigger == "labels" and version.status == VersionStatus.QUEUED


def test_labels_are_counted_since_the_last_snapshot(project, labeled_frames):
    project.retrain_after_labels = 3
    project.save()
    frames = labeled_frames(project, 4)
    ModelVersion.objects.create(
        project=project, iteration=1, status=VersionStatus.READY,
        label_snapshot=label_snapshot(project, [f.pk for f in frames]))
    assert new_labels_since_last_model(project.pk) == 0
    labeled_frames(project, 2, seed=1)
    assert new_labels_since_last_model(project.pk) == 2
    assert maybe_retrain(project.pk) is None
    labeled_frames(project, 1, seed=2)
    assert maybe_retrain(project.pk).iteration == 2


def test_no_trigger_while_a_training_is_active_or_when_off(project, labeled_frames):
    project.retrain_after_labels = 1
    project.save()
    labeled_frames(project, 3)
    assert maybe_retrain(project.pk) is not None
    assert maybe_retrain(project.pk) is None
    ModelVersion.objects.update(status=VersionStatus.CANCELLED)
    project.retrain_after_labels = 0
    project.save()
    assert maybe_retrain(project.pk) is None


def test_scheduled_retrain_needs_new_labels(project, labeled_frames):
    frames = labeled_frames(project, 3)
    ModelVersion.objects.create(
        project=project, iteration=1, status=VersionStatus.READY,
        label_snapshot=label_snapshot(project, [f.pk for f in frames]))
    assert scheduled_retrain(project.pk) is None
    labeled_frames(project, 1, seed=1)
    assert scheduled_retrain(project.pk).trigger == "schedule"


def test_beat_schedule_follows_project_settings(project):
    name = f"{SCHEDULE_PREFIX}{project.pk}"
    assert not PeriodicTask.objects.filter(name=name).exists()
    project.retrain_every_hours = 6
    project.save()
    task = PeriodicTask.objects.get(name=name)
    assert task.task == "learning.tasks.train_scheduled_task"
    assert json.loads(task.args) == [project.pk] and task.interval.every == 6
    project.retrain_every_hours = 2
    project.save()
    assert PeriodicTask.objects.get(name=name).interval.every == 2
    project.retrain_every_hours = 0
    project.save()
    assert not PeriodicTask.objects.filter(name=name).exists()


def test_deleting_a_project_removes_its_schedule(project):
    project.retrain_every_hours = 1
    project.save()
    pk = project.pk
    project.delete()
    assert not PeriodicTask.objects.filter(name=f"{SCHEDULE_PREFIX}{pk}").exists()

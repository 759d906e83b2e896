from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.models import Job, JobStatus
from learning.errors import Conflict
from learning.models import ModelVersion, VersionStatus
from learning.training.registry import current_version
from learning.training.runs import reap_stale, start_training

pytestmark = pytest.mark.django_db


def test_start_creates_a_queued_version_and_job(project, labeled_frames, users,
                                                django_capture_on_commit_callbacks):
    labeled_frames(project, 3)
    with django_capture_on_commit_callbacks() as callbacks:
        version = start_training(project, user=users["pi"], minutes=0.5)
    assert version.status == VersionStatus.QUEUED and version.iteration == 1
    assert version.job.kind == "train" and version.job.params["version_id"] == version.pk
    assert len(callbacks) == 1  # the task is sent only after commit


def test_second_start_is_refused_while_one_is_active(project, labeled_frames):
    labeled_frames(project, 3)
    start_training(project)
    with pytest.raises(Conflict):
        start_training(project)
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert Job.objects.filter(project=project).count() == 1


def test_the_database_refuses_two_active_versions(project):
    ModelVersion.objects.create(project=project, iteration=1, status=VersionStatus.TRAINING)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(project=project, iteration=2, status=VersionStatus.QUEUED)
    ModelVersion.objects.create(project=project, iteration=3, status=VersionStatus.READY)


def test_too_few_labels(project, labeled_frames):
    labeled_frames(project, 2)
    with pytest.raises(ValidationError):
        start_training(project)


def test_a_silent_worker_is_reaped_and_never_current(project, labeled_frames):
    labeled_frames(project, 3)
    version = start_training(project)
    ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.TRAINING)
    Job.objects.filter(pk=version.job_id).update(status=JobStatus.RUNNING)
    assert reap_stale(project.pk) == 0  # still reporting
    later = timezone.now() + timedelta(hours=1)
    assert reap_stale(project.pk, now=later) == 1
    version.refresh_from_db()
    assert version.status == VersionStatus.FAILED and "Stale" in version.message
    assert Job.objects.get(pk=version.job_id).status == JobStatus.FAILED
    assert current_version(project) is None
    assert start_training(project).iteration == 2


def test_a_version_whose_job_ended_is_reaped_on_next_start(project, labeled_frames):
    labeled_frames(project, 3)
    version = start_training(project)
    Job.objects.filter(pk=version.job_id).update(status=JobStatus.FAILED)
    assert start_training(project).iteration == 2
    version.refresh_from_db()
    assert version.status == VersionStatus.FAILED

"""Queue by reason, leases, jobs with progress and errors, schedule, worker heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from annotation.models import EntryStatus, QueueReason
from dashboards.operations import operations
from jobs.models import Job, JobKind, JobStatus, WorkerHeartbeat
from learning.training.triggers import SCHEDULE_PREFIX
from tests.annotation.factories import FrameFactory, QueueEntryFactory
from tests.dashboards.factories import version
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def entry(project, reason, status=EntryStatus.OPEN, **kw):
    return QueueEntryFactory(frame=FrameFactory(project=project), reason=reason, status=status,
                             **kw)


def test_queue_length_by_reason(project):
    entry(project, QueueReason.DIVERSITY)
    entry(project, QueueReason.DIVERSITY)
    entry(project, QueueReason.UNCERTAINTY)
    entry(project, QueueReason.UNCERTAINTY, EntryStatus.LEASED, leased_to=UserFactory(),
          lease_expires_at=NOW + timedelta(minutes=5))
    entry(project, QueueReason.MANUAL, EntryStatus.DONE)  # finished: not in the queue
    result = operations(project, NOW)
    assert [(r["reason"], r["open"], r["leased"]) for r in result["queue"]] == [
        ("diversity", 2, 0), ("uncertainty", 1, 1)]
    assert result["queue_total"] == 4


def test_leases_in_progress_and_expired(project):
    ann, late = UserFactory(username="ann"), UserFactory(username="late")
    entry(project, QueueReason.MANUAL, EntryStatus.LEASED, leased_to=ann,
          lease_expires_at=NOW + timedelta(minutes=5))
    entry(project, QueueReason.MANUAL, EntryStatus.LEASED, leased_to=late,
          lease_expires_at=NOW - timedelta(minutes=1))
    leases = operations(project, NOW)["leases"]
    assert [(lease["annotator"], lease["expired"]) for lease in leases] == [
        ("late", True), ("ann", False)]


def test_running_and_recently_failed_jobs(project):
    running = Job.objects.create(project=project, kind=JobKind.TRAIN, status=JobStatus.RUNNING,
                                 progress=0.4, message="epoch 4/10")
    failed = Job.objects.create(project=project, kind=JobKind.SCORE, status=JobStatus.FAILED,
                                error="Traceback…\nRuntimeError: out of memory")
    old = Job.objects.create(project=project, kind=JobKind.ANALYZE, status=JobStatus.FAILED)
    Job.objects.create(project=project, kind=JobKind.TRAIN, status=JobStatus.SUCCEEDED)
    Job.objects.filter(pk__in=[running.pk, failed.pk]).update(created_at=NOW - timedelta(hours=1))
    Job.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=8))
    jobs = operations(project, NOW)["jobs"]
    assert [(j["id"], j["status"], j["progress"]) for j in jobs] == [
        (running.pk, "running", 0.4), (failed.pk, "failed", 0.0)]
    assert jobs[0]["message"] == "epoch 4/10" and jobs[0]["kind_label"] == "Training"
    assert jobs[1]["error"].endswith("out of memory")


def test_next_scheduled_run_and_label_trigger(project):
    project.retrain_every_hours = 6
    project.retrain_after_labels = 25
    project.save()  # the learning app keeps the PeriodicTask in sync
    PeriodicTask.objects.filter(name=f"{SCHEDULE_PREFIX}{project.pk}").update(
        last_run_at=NOW - timedelta(hours=2))
    schedule = operations(project, NOW)["schedule"]
    assert schedule["enabled"] and schedule["every"] == "every 6 hours"
    assert schedule["next_run_at"] == NOW + timedelta(hours=4)
    assert schedule["retrain_after_labels"] == 25 and schedule["new_labels"] == 0


def test_no_schedule(project):
    schedule = operations(project, NOW)["schedule"]
    assert not schedule["enabled"] and schedule["next_run_at"] is None


def test_last_model_time(project):
    first = version(project, n_labels=10, test_rmse=5.0, current=True)
    second = version(project, n_labels=20, test_rmse=6.0)
    type(first).objects.filter(pk=first.pk).update(finished_at=NOW - timedelta(days=1))
    type(second).objects.filter(pk=second.pk).update(finished_at=NOW - timedelta(hours=1))
    result = operations(project, NOW)
    assert result["last_model_at"] == NOW - timedelta(hours=1)
    assert result["current_model_at"] == NOW - timedelta(days=1)


def test_worker_heartbeats(project):
    WorkerHeartbeat.objects.create(hostname="gpu-1", seen_at=NOW - timedelta(seconds=50))
    WorkerHeartbeat.objects.create(hostname="cpu-1", seen_at=NOW - timedelta(minutes=30))
    workers = operations(project, NOW)["workers"]
    assert [(w["hostname"], w["alive"], w["age_s"]) for w in workers] == [
        ("cpu-1", False, 1800.0), ("gpu-1", True, 50.0)]

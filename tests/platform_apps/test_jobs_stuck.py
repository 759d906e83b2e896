"""A job no worker takes is shown stuck, with the most likely reason (jobs.stuck)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, JobKind, JobStatus, WorkerHeartbeat
from jobs.serializers import JobSerializer
from jobs.stuck import StuckCheck, stuck_after
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def queued(project, kind=JobKind.TRAIN, *, age=timedelta(minutes=13, seconds=30), sent=True,
           **fields):
    """A queued job created (and sent, unless `sent=False`) `age` ago."""
    job = Job.objects.create(project=project, kind=kind, params={"version_id": 1}, **fields)
    then = timezone.now() - age
    Job.objects.filter(pk=job.pk).update(created_at=then, dispatched_at=then if sent else None)
    job.refresh_from_db()
    return job


def worker(hostname, queues, age=timedelta(seconds=30)):
    return WorkerHeartbeat.objects.create(hostname=hostname, queues=queues,
                                          seen_at=timezone.now() - age)


def test_the_threshold_is_a_setting(settings):
    settings.JOB_STUCK_AFTER_S = 30
    assert stuck_after() == timedelta(seconds=30)


def test_a_job_queued_moments_ago_is_not_stuck(project):
    job = queued(project, age=timedelta(seconds=5))
    check = StuckCheck()
    assert not check.is_stuck(job) and check.reason(job) is None


def test_a_job_queued_past_the_threshold_is_stuck(project, settings):
    settings.JOB_STUCK_AFTER_S = 120
    assert StuckCheck().is_stuck(queued(project, age=timedelta(seconds=121)))
    assert not StuckCheck().is_stuck(queued(project, age=timedelta(seconds=100)))


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED,
                                    JobStatus.CANCELLED])
def test_only_queued_jobs_can_be_stuck(project, status):
    assert StuckCheck().reason(queued(project, status=status)) is None


def test_the_clock_restarts_when_the_task_is_sent_again(project):
    job = queued(project, age=timedelta(hours=1))
    Job.objects.filter(pk=job.pk).update(dispatched_at=timezone.now() - timedelta(seconds=10))
    job.refresh_from_db()
    assert not StuckCheck().is_stuck(job)


def test_reason_no_heartbeat_ever(project):
    reason = StuckCheck().reason(queued(project))
    assert reason == ("Queued for 13\xa0minutes: no worker is running "
                      "(no worker has ever sent a heartbeat).")


def test_reason_only_silent_workers(project):
    worker("celery@old", ["default"], age=timedelta(hours=2))
    reason = StuckCheck().reason(queued(project))
    assert "no worker is running (the last heartbeat was 2\xa0hours ago)" in reason


def test_reason_no_worker_consumes_the_queue(project):
    worker("celery@cpu", ["default", "inference"])
    reason = StuckCheck().reason(queued(project, JobKind.TRAIN))
    assert reason == ("Queued for 13\xa0minutes: no running worker consumes the 'training' "
                      "queue (running: celery@cpu [default, inference]).")


def test_a_consumer_of_the_queue_leaves_the_generic_reason(project):
    worker("celery@cpu", ["default", "inference"])
    worker("training@gpu", ["training"])
    assert StuckCheck().reason(queued(project, JobKind.TRAIN)) == (
        "Queued for 13\xa0minutes; no worker has taken it.")


def test_workers_that_did_not_say_their_queues_leave_the_generic_reason(project):
    worker("celery@legacy", [])
    assert StuckCheck().reason(queued(project, JobKind.SCORE)).endswith(
        "; no worker has taken it.")


def test_reason_busy_workers_of_the_queue(project):
    worker("training@gpu", ["training"])
    Job.objects.create(project=ProjectFactory(), kind=JobKind.TRAIN, status=JobStatus.RUNNING)
    reason = StuckCheck().reason(queued(project, JobKind.TRAIN))
    assert "the 'training' workers are busy (1 job(s) running)" in reason


def test_reason_task_never_sent(project):
    worker("celery@cpu", ["default"])
    reason = StuckCheck().reason(queued(project, JobKind.EXTRACT_FRAMES, sent=False))
    assert "its task was never sent to the broker" in reason


def test_reason_of_a_job_that_runs_in_the_request(project):
    assert "runs in the web request" in StuckCheck().reason(queued(project, JobKind.EXPORT))


def test_heartbeats_are_read_only_when_a_job_may_be_stuck(project, django_assert_num_queries):
    job = queued(project, age=timedelta(seconds=1))
    with django_assert_num_queries(0):
        StuckCheck().reason(job)


def test_the_serializer_exposes_stuck_and_its_reason(project):
    stuck, fresh = queued(project), queued(project, age=timedelta(seconds=1))
    data = JobSerializer([stuck, fresh], many=True).data
    assert (data[0]["stuck"], data[1]["stuck"]) == (True, False)
    assert "no worker is running" in data[0]["stuck_reason"] and data[1]["stuck_reason"] is None
    assert data[0]["dispatched_at"] is not None


def test_the_jobs_api_lists_stuck_jobs_with_their_reason(project, users, as_user):
    worker("celery@cpu", ["default"])
    job = queued(project, JobKind.ANALYZE)
    rows = as_user("annotator").get(f"/api/projects/{project.pk}/jobs/").json()["results"]
    assert rows[0]["id"] == job.pk and rows[0]["stuck"] is True
    assert "'inference' queue" in rows[0]["stuck_reason"]

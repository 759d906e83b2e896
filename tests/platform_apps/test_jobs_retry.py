"""A PI retries or cancels a stuck job; other roles cannot; bad states are 409, unchanged."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import Job, JobKind, JobStatus
from tests.factories import MembershipFactory, ProjectFactory
from videos.tasks import extract_frames_task


def stuck_job(project, kind=JobKind.EXTRACT_FRAMES, age=timedelta(minutes=13), **fields):
    job = Job.objects.create(project=project, kind=kind, params={"video_id": 1}, **fields)
    then = timezone.now() - age
    Job.objects.filter(pk=job.pk).update(created_at=then, dispatched_at=then)
    job.refresh_from_db()
    return job


@pytest.fixture
def sent(monkeypatch):
    """The arguments of every extract_frames_task sent (the task itself is not run)."""
    calls: list[tuple] = []
    monkeypatch.setattr(extract_frames_task, "delay", lambda *args: calls.append(args))
    return calls


def url(job, action):
    return f"/api/projects/{job.project_id}/jobs/{job.pk}/{action}/"


@pytest.fixture
def press(as_user, django_capture_on_commit_callbacks):
    """press(role, job, action) → the response, with the on-commit sends run."""

    def post(role, job, action):
        client = APIClient() if role == "anonymous" else as_user(role)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url(job, action))

    return post


@pytest.mark.django_db
def test_a_pi_retries_a_stuck_job_with_its_original_arguments(project, users, press, sent):
    job = stuck_job(project)
    response = press("pi", job, "retry")
    assert response.status_code == 202, response.content
    assert sent == [(job.pk,)]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert timezone.now() - job.dispatched_at < timedelta(seconds=5)
    assert response.json()["stuck"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "expected"), [
    ("anonymous", 401), ("outsider", 404), ("other_pi", 404), ("annotator", 403),
    ("reviewer", 403), ("staff", 202),
])
@pytest.mark.parametrize("action", ["retry", "cancel"])
def test_only_a_pi_may_retry_or_cancel(project, users, press, sent, role, expected, action):
    job = stuck_job(project)
    before = Job.objects.filter(pk=job.pk).values().get()
    assert press(role, job, action).status_code == expected
    if expected != 202:
        assert Job.objects.filter(pk=job.pk).values().get() == before and sent == []


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED,
                                    JobStatus.CANCELLED])
def test_retry_of_a_job_that_is_not_queued_is_409(project, users, press, sent, status):
    job = stuck_job(project, status=status)
    response = press("pi", job, "retry")
    assert response.status_code == 409 and f"The job is {status}" in response.json()["detail"]
    assert sent == [] and Job.objects.get(pk=job.pk).dispatched_at == job.dispatched_at


@pytest.mark.django_db
def test_retry_of_a_job_queued_moments_ago_is_409(project, users, press, sent):
    job = stuck_job(project, age=timedelta(seconds=3))
    response = press("pi", job, "retry")
    assert response.status_code == 409 and "not stuck" in response.json()["detail"]
    assert sent == []


@pytest.mark.django_db
def test_retry_of_a_job_that_runs_in_the_request_is_409(project, users, press):
    job = stuck_job(project, kind=JobKind.EXPORT)
    response = press("pi", job, "retry")
    assert response.status_code == 409 and "web request" in response.json()["detail"]


@pytest.mark.django_db
def test_a_second_retry_right_after_the_first_is_409(project, users, press, sent):
    job = stuck_job(project)
    assert press("pi", job, "retry").status_code == 202
    assert press("pi", job, "retry").status_code == 409
    assert sent == [(job.pk,)]


@pytest.mark.django_db
def test_two_retries_from_the_same_stale_read_send_once(project, sent,
                                                       django_capture_on_commit_callbacks):
    from jobs.dispatch import NotRetryable, retry

    job = stuck_job(project)
    stale_copy = Job.objects.get(pk=job.pk)  # both PIs loaded the page before either pressed
    cutoff = timezone.now() - timedelta(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        retry(job, queued_before=cutoff)
        with pytest.raises(NotRetryable):
            retry(stale_copy, queued_before=cutoff)
    assert sent == [(job.pk,)]


@pytest.mark.django_db(transaction=True)
def test_two_pis_pressing_retry_at_once_dispatch_once(sent):
    project = ProjectFactory()
    pis = [MembershipFactory(project=project, role="pi").user for _ in range(2)]
    job = stuck_job(project)
    barrier, codes = threading.Barrier(2), []

    def press(user) -> None:
        client = APIClient()
        client.force_authenticate(user)
        barrier.wait()
        try:
            codes.append(client.post(url(job, "retry")).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in pis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes) == [202, 409]
    assert sent == [(job.pk,)]


@pytest.mark.django_db
def test_cancel_of_a_stuck_job_cancels_it_at_once(project, users, press, sent):
    job = stuck_job(project)
    response = press("pi", job, "cancel")
    assert response.status_code == 202
    assert response.json()["status"] == JobStatus.CANCELLED
    job.refresh_from_db()
    assert job.finished_at is not None and job.message == "Cancelled before it started"
    assert press("pi", job, "retry").status_code == 409


@pytest.mark.django_db
def test_a_message_delivered_after_the_cancel_runs_nothing(project, users, press):
    job = stuck_job(project)
    press("pi", job, "cancel")
    extract_frames_task(job.pk)  # the lost message turns up after all
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED


@pytest.mark.django_db
def test_cancel_of_a_running_job_asks_it_to_stop(project, users, press):
    job = stuck_job(project, status=JobStatus.RUNNING)
    assert press("pi", job, "cancel").status_code == 202
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.cancel_requested


@pytest.mark.django_db
def test_cancel_of_a_finished_job_is_409_and_changes_nothing(project, users, press):
    job = stuck_job(project, status=JobStatus.SUCCEEDED, message="Done in 3 s")
    assert press("pi", job, "cancel").status_code == 409
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and not job.cancel_requested

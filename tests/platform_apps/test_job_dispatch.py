"""One dispatch table sends every worker-run job kind; heartbeats say which queues are served."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from jobs.dispatch import DISPATCH, dispatch, queue_of
from jobs.models import Job, JobKind, JobStatus, WorkerHeartbeat
from jobs.progress import done_message, running
from jobs.tasks import heartbeat
from jobs.worker import start_heartbeats
from poseloop.celery import app

# Run inside the web request (learning.exchange.exporting, the DeepLabCut import): never sent.
IN_REQUEST = {JobKind.EXPORT, JobKind.IMPORT}


def test_every_job_kind_is_sent_by_the_table_or_runs_in_the_request():
    assert set(DISPATCH) | IN_REQUEST == set(JobKind) and not set(DISPATCH) & IN_REQUEST


@pytest.mark.parametrize("kind", sorted(DISPATCH))
def test_every_task_in_the_table_is_registered_with_the_worker(kind):
    app.loader.import_default_modules()  # what the worker's autodiscovery imports
    assert DISPATCH[kind].task in app.tasks


@pytest.mark.parametrize(("kind", "queue"), [
    (JobKind.TRAIN, "training"), (JobKind.SCORE, "inference"), (JobKind.ANALYZE, "inference"),
    (JobKind.EXTRACT_FRAMES, "default"), (JobKind.EXPORT, None),
])
def test_queue_of_a_job_kind_follows_the_routes(kind, queue):
    assert queue_of(kind) == queue


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "params", "expected"), [
    (JobKind.TRAIN, {"version_id": 7}, lambda j: (7, j.pk)),
    (JobKind.SCORE, {"version_id": 7}, lambda j: (j.project_id, 7, j.pk)),
    (JobKind.ANALYZE, {"video_id": 3}, lambda j: (j.pk,)),
    (JobKind.EXTRACT_FRAMES, {"video_id": 3}, lambda j: (j.pk,)),
])
def test_dispatch_sends_the_task_with_the_arguments_of_the_original_path(
        project, monkeypatch, kind, params, expected):
    from django.utils.module_loading import import_string

    job = Job.objects.create(project=project, kind=kind, params=params)
    task, calls = import_string(DISPATCH[kind].task), []
    monkeypatch.setattr(task, "delay", lambda *args: calls.append(args))
    dispatch(job)
    assert calls == [expected(job)]
    assert Job.objects.get(pk=job.pk).dispatched_at is not None


@pytest.mark.django_db
def test_extraction_is_sent_through_the_table_after_commit(project, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    from videos.extraction import Strategy
    from videos.services import start_extraction
    from videos.tasks import extract_frames_task

    calls = []
    monkeypatch.setattr(extract_frames_task, "delay", lambda *args: calls.append(args))
    video = SimpleNamespace(pk=5, project_id=project.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = start_extraction(video, Strategy.UNIFORM, 3)
    assert calls == [] and Job.objects.get(pk=job.pk).dispatched_at is None
    callbacks[0]()
    assert calls == [(job.pk,)] and Job.objects.get(pk=job.pk).dispatched_at is not None


@pytest.mark.django_db
def test_the_heartbeat_task_records_the_queues_the_worker_consumes():
    heartbeat.apply()
    beat = WorkerHeartbeat.objects.get()
    assert beat.queues == ["default"]  # eager: the app's default queue


@pytest.mark.django_db
def test_a_worker_records_its_own_heartbeat_with_its_queues_every_minute(monkeypatch):
    monkeypatch.setattr(app.amqp.queues, "_consume_from", {"training": object()})
    monkeypatch.setattr("jobs.worker.close_old_connections", lambda: None)  # the test's atomic
    scheduled = []
    consumer = SimpleNamespace(
        hostname="training@gpu", app=app,
        timer=SimpleNamespace(call_repeatedly=lambda s, fn: scheduled.append((s, fn))))
    start_heartbeats(consumer)
    beat = WorkerHeartbeat.objects.get(hostname="training@gpu")
    assert beat.queues == ["training"] and scheduled[0][0] == 60.0
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(hours=1))
    scheduled[0][1]()  # the timer fires
    assert timezone.now() - WorkerHeartbeat.objects.get().seen_at < timedelta(seconds=5)


@pytest.mark.django_db
def test_a_succeeded_job_no_longer_shows_its_last_phase(project):
    job = Job.objects.create(project=project, kind=JobKind.TRAIN)
    with running(job.pk):
        Job.objects.filter(pk=job.pk).update(message="Evaluating")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.message.startswith("Done in ")


def test_done_message_reads_seconds_then_minutes():
    now = timezone.now()
    assert done_message(now - timedelta(seconds=42), now) == "Done in 42 s"
    assert done_message(now - timedelta(minutes=3, seconds=5), now) == "Done in 3\xa0minutes"
    assert done_message(None, now) == "Done"

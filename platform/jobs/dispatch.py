"""The one table of which Celery task runs each kind of job, and the sending of it.

Every path that queues a job (training, scoring, analysis, frame extraction) and the retry of
a stuck job send the task through `dispatch`, so a retry repeats exactly what the original
path sent. Tasks are named by dotted path and imported when sent: this app sits below
`learning` and `videos` and imports nothing from them at import time.

Exports and imports run inside the request (`learning.exchange.exporting`), never on a worker; they
are not in the table and cannot be retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.models import Job, JobKind, JobStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskCall:
    """A task (dotted path) and how to build its positional arguments from the Job row."""

    task: str
    args: Callable[[Job], tuple]


DISPATCH: dict[str, TaskCall] = {
    JobKind.EXTRACT_FRAMES: TaskCall("videos.tasks.extract_frames_task", lambda j: (j.pk,)),
    JobKind.TRAIN: TaskCall("learning.tasks.train_model_task",
                            lambda j: (j.params["version_id"], j.pk)),
    JobKind.DISTILL: TaskCall("learning.tasks.distill_model_task",
                              lambda j: (j.params["version_id"], j.pk)),
    JobKind.SCORE: TaskCall("learning.tasks.score_project_task",
                            lambda j: (j.project_id, j.params["version_id"], j.pk)),
    JobKind.ANALYZE: TaskCall("learning.tasks.analyze_video_task", lambda j: (j.pk,)),
    JobKind.CALIBRATE: TaskCall("cameras.tasks.calibrate_rig_task",
                                lambda j: (j.params["calibration_id"], j.pk)),
    JobKind.TRIANGULATE: TaskCall("cameras.tasks.triangulate_session_task",
                                  lambda j: (j.params["triangulation_id"], j.pk)),
    JobKind.SCORE_3D: TaskCall("cameras.tasks.score_views_3d_task",
                               lambda j: (j.project_id, j.params["version_id"], j.pk)),
}


class NotRetryable(Exception):
    """The job cannot be sent again (its state, or a kind no worker runs); says why."""


def is_dispatched(kind: str) -> bool:
    """True for kinds a worker runs (the others run in the request)."""
    return kind in DISPATCH


def task_name(kind: str) -> str:
    """The Celery name of the task a job kind runs (a dotted path, as Celery names them)."""
    return DISPATCH[kind].task


def queue_of(kind: str) -> str | None:
    """The broker queue the job's task is routed to (CELERY_TASK_ROUTES); None if not sent."""
    if kind not in DISPATCH:
        return None
    return current_app.amqp.router.route({}, task_name(kind))["queue"].name


def dispatch(job: Job) -> None:
    """Send the job's task now and record when (`dispatched_at`)."""
    call = DISPATCH[job.kind]
    import_string(call.task).delay(*call.args(job))
    Job.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())


def dispatch_on_commit(job: Job) -> None:
    """Send the job's task once the surrounding transaction commits (the row must exist)."""
    transaction.on_commit(lambda: dispatch(job))


def retry(job: Job, *, queued_before: datetime) -> Job:
    """Send a queued job's task again if it was last sent before `queued_before`.

    The claim is one conditional UPDATE of `dispatched_at` (on status, the cancel flag and the
    old send time), so of two PIs pressing Retry at once exactly one sends the task; the other
    gets NotRetryable. It moves `updated_at` too, so the reaper's day for never-started jobs
    restarts. A message that does arrive twice is still run once: the worker claims the job
    with a conditional UPDATE on its queued status (`jobs.progress.running`).
    """
    if not is_dispatched(job.kind):
        raise NotRetryable(f"A {job.get_kind_display().lower()} job runs in the web request, "
                           "not on a worker; start it again instead.")
    if job.status != JobStatus.QUEUED:
        raise NotRetryable(f"The job is {job.status}; only a stuck queued job can be retried.")
    now = timezone.now()
    sent_long_ago = Q(dispatched_at__lt=queued_before) | Q(
        dispatched_at__isnull=True, created_at__lt=queued_before)
    claimed = Job.objects.filter(
        sent_long_ago, pk=job.pk, status=JobStatus.QUEUED, cancel_requested=False
    ).update(dispatched_at=now, updated_at=now)
    if not claimed:
        raise NotRetryable("The job is not stuck: it was sent to a worker moments ago, or it "
                           "was started, cancelled or retried meanwhile.")
    job.refresh_from_db()
    logger.info("retrying job %s (%s)", job.pk, job.kind)
    dispatch_on_commit(job)
    return job

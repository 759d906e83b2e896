"""Creating jobs and reporting their progress; the UI and CLI read the Job rows."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.timesince import timesince

from jobs.models import ACTIVE_STATUSES, Job, JobKind, JobStatus

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job when a user asked to cancel it."""


def create_job(
    project_id: int,
    kind: JobKind,
    *,
    params: dict[str, Any] | None = None,
    user_id: int | None = None,
) -> Job:
    """Create a queued job row."""
    return Job.objects.create(
        project_id=project_id, kind=kind, params=params or {}, created_by_id=user_id
    )


def report(job_id: int, progress: float, message: str = "") -> None:
    """Store progress (0..1) with a single UPDATE; raises JobCancelled if cancel was asked."""
    Job.objects.filter(pk=job_id).update(
        progress=max(0.0, min(1.0, progress)), message=message[:300], updated_at=timezone.now()
    )
    if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
        raise JobCancelled(f"job {job_id} cancelled")


def cancel_requested(job_id: int) -> bool:
    """True once a user asked to cancel the job."""
    return Job.objects.filter(pk=job_id, cancel_requested=True).exists()


def request_cancel(job: Job) -> bool:
    """Cancel a queued job at once, or ask a running one to stop; False if it had finished.

    The queued case is a conditional UPDATE on the queued status (a worker claims a job with
    the same kind of UPDATE, so exactly one of them wins, and a message delivered later finds
    the job not queued and skips it); if the worker won, the running job gets the cancel flag.
    """
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, cancel_requested=True, finished_at=now, updated_at=now,
        message="Cancelled before it started",
    ):
        return True
    updated = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
        cancel_requested=True
    )
    return updated == 1


@contextmanager
def running(job_id: int) -> Iterator[Job]:
    """Mark the job running for the block; succeeded, cancelled or failed after it.

    The status change is a conditional UPDATE, so a job another worker already started
    (a redelivered message) is not run twice: the block is skipped with JobCancelled.
    """
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        raise JobCancelled(f"job {job_id} is not queued (already taken or finished)")
    job = Job.objects.get(pk=job_id)
    try:
        yield job
    except JobCancelled:
        _finish(job_id, JobStatus.CANCELLED, message="Cancelled")
        raise
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        _finish(
            job_id,
            JobStatus.FAILED,
            message=str(exc)[:300] or type(exc).__name__,
            error=traceback.format_exc(),
        )
        raise
    else:
        # The last progress message names a phase ("Evaluating"); a finished job says so.
        _finish(job_id, JobStatus.SUCCEEDED, progress=1.0, result=job.result,
                message=done_message(job.started_at, timezone.now()))


def done_message(started_at: datetime | None, now: datetime) -> str:
    """"Done in 42 s" / "Done in 3 minutes": what a succeeded job's message reads."""
    if started_at is None:
        return "Done"
    seconds = (now - started_at).total_seconds()
    return f"Done in {seconds:.0f} s" if seconds < 60 else f"Done in {timesince(started_at, now)}"


def _finish(
    job_id: int,
    status: JobStatus,
    *,
    message: str = "",
    error: str = "",
    progress: float | None = None,
    result: dict[str, Any] | None = None,
) -> None:
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "error": error}
    if message:
        fields["message"] = message[:300]
    if progress is not None:
        fields["progress"] = progress
    if result is not None:
        fields["result"] = result
    with transaction.atomic():
        Job.objects.filter(pk=job_id).update(**fields)

"""The reaper: jobs whose worker died are marked failed, with a message, instead of hanging.

A worker killed mid-task (OOM, SIGKILL, a lost machine) leaves its Job `running`. With
`acks_late` the broker may redeliver the message, but `jobs.progress.running()` refuses to run
a job that is already running (no double work), so without this module the Job would stay
`running` forever. A running job reports progress at least every few minutes (each report
moves `updated_at`); one silent for longer than `stale_after` is taken to be dead.

Beat runs it every 5 minutes (`jobs.tasks.reap_stale_jobs_task`, CELERY_BEAT_SCHEDULE).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from jobs.models import Job, JobStatus

# Training reports at least once an epoch and learning.training.runs uses 20 minutes; keep in step.
STALE_AFTER = timedelta(minutes=20)
# A queued job no worker ever claimed (its message lost with a broker or a worker).
NEVER_STARTED_AFTER = timedelta(hours=24)


def reap_stale_jobs(*, now: datetime | None = None, stale_after: timedelta = STALE_AFTER,
                    never_started_after: timedelta = NEVER_STARTED_AFTER) -> list[int]:
    """Mark silent running jobs and long-unclaimed queued jobs failed; returns their ids.

    Each job is failed by a conditional UPDATE on its status and `updated_at`, so a job that
    reports progress or finishes meanwhile is left alone.
    """
    now = now or timezone.now()
    candidates = Job.objects.filter(
        Q(status=JobStatus.RUNNING, updated_at__lt=now - stale_after)
        | Q(status=JobStatus.QUEUED, updated_at__lt=now - never_started_after)
    ).values_list("pk", "status", "updated_at")
    reaped = []
    for job_id, status, updated_at in candidates:
        if status == JobStatus.RUNNING:
            message = (f"Worker lost: no progress since {updated_at:%Y-%m-%d %H:%M:%S} UTC; "
                       "marked failed. Start it again.")
        else:
            message = "Never started: no worker took this job; marked failed. Start it again."
        done = Job.objects.filter(pk=job_id, status=status, updated_at=updated_at).update(
            status=JobStatus.FAILED, finished_at=now, message=message[:300],
            error="reaped by jobs.reaper", updated_at=now)
        if done:
            reaped.append(job_id)
    return reaped

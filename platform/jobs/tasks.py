"""Worker liveness (a heartbeat the dashboards read) and the reaper of stale jobs."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from jobs.models import WorkerHeartbeat
from jobs.reaper import reap_stale_jobs


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is alive (its hostname and the time)."""
    hostname = heartbeat.request.hostname or "eager"
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"seen_at": timezone.now()}
    )


@shared_task(ignore_result=True)
def reap_stale_jobs_task() -> None:
    """Beat entry point: fail jobs whose worker died (see jobs.reaper)."""
    reap_stale_jobs()

"""Worker liveness (a heartbeat the dashboards read) and the reaper of stale jobs."""

from __future__ import annotations

from celery import shared_task

from jobs.reaper import reap_stale_jobs
from jobs.worker import consumed_queues, record_heartbeat


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is alive (its hostname, the time and the queues it consumes)."""
    record_heartbeat(heartbeat.request.hostname or "eager", consumed_queues(heartbeat.app))


@shared_task(ignore_result=True)
def reap_stale_jobs_task() -> None:
    """Beat entry point: fail jobs whose worker died (see jobs.reaper)."""
    reap_stale_jobs()

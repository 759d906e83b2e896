"""Worker liveness: a heartbeat the dashboards and the start-up test read."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from jobs.models import WorkerHeartbeat


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is alive (its hostname and the time)."""
    hostname = heartbeat.request.hostname or "eager"
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"seen_at": timezone.now()}
    )

"""Worker heartbeats with the queues each worker consumes (read by jobs.stuck, dashboards).

Beat's `jobs.tasks.heartbeat` goes to the `default` queue, so only workers consuming it ever
run it (one of them per beat). A worker started with `-Q training` would never be seen, and
a training job waiting for it could not be told from one no worker consumes. So every worker
also records its own heartbeat from its main process once a minute (`start_heartbeats`, on
Celery's `worker_ready` signal, connected in `jobs.apps`), busy or not.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from django.db import close_old_connections
from django.utils import timezone

from jobs.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 60.0


def consumed_queues(app: Celery) -> list[str]:
    """The queues this worker consumes (`-Q`, else the configured defaults), sorted."""
    return sorted(app.amqp.queues.consume_from)


def record_heartbeat(hostname: str, queues: list[str]) -> None:
    """Store that the worker is alive now, with its queues (one upsert)."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"seen_at": timezone.now(), "queues": queues}
    )


def start_heartbeats(sender: Any, **kwargs: Any) -> None:
    """`worker_ready` receiver: record a heartbeat now and every minute from the worker's timer.

    Runs in the worker's main process (the sender is its consumer), so a worker whose pool is
    busy with a long training still reports; a failed write is logged, never raised into
    the worker.
    """
    hostname, queues = sender.hostname, consumed_queues(sender.app)

    def beat() -> None:
        try:
            record_heartbeat(hostname, queues)
        except Exception:
            logger.exception("could not record the heartbeat of %s", hostname)
        finally:
            close_old_connections()

    beat()
    sender.timer.call_repeatedly(HEARTBEAT_EVERY_S, beat)

"""Stuck jobs: queued longer than `JOB_STUCK_AFTER_S` with no worker taking them, and why.

A job's task can be lost without any error: the broker was down when it was sent, no worker
consumes its queue, or the worker does not know the task (it drops the message as
"unregistered"). The Job then stays `queued`; this module tells the pages and the API that
it is stuck and gives the most likely reason from what the database knows (the send time,
the workers' heartbeats and the queues they consume). The reaper fails such a job only after
a day (`jobs.reaper`); meanwhile a PI can retry or cancel it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince

from jobs.dispatch import is_dispatched, queue_of
from jobs.models import Job, JobStatus, WorkerHeartbeat

# Beat sends a heartbeat a minute and each worker records one a minute (jobs.worker).
WORKER_ALIVE = timedelta(minutes=3)


def stuck_after() -> timedelta:
    """How long a job may wait in the queue before it is shown as stuck (setting)."""
    return timedelta(seconds=getattr(settings, "JOB_STUCK_AFTER_S", 120))


@dataclass(frozen=True)
class Workers:
    """What the heartbeats say: live workers with their queues, and the last one seen."""

    alive: dict[str, tuple[str, ...]]  # hostname → queues it consumes, () when unknown
    last_seen: datetime | None
    running: Counter[str]  # queue → jobs running on it (all projects)

    @classmethod
    def at(cls, now: datetime) -> Workers:
        """Read the heartbeats and the running jobs (two queries)."""
        beats = list(WorkerHeartbeat.objects.values_list("hostname", "seen_at", "queues"))
        kinds = Job.objects.filter(status=JobStatus.RUNNING).values_list("kind", flat=True)
        return cls(
            alive={host: tuple(queues or ()) for host, seen, queues in beats
                   if now - seen <= WORKER_ALIVE},
            last_seen=max((seen for _, seen, _ in beats), default=None),
            running=Counter(q for q in map(queue_of, kinds) if q),
        )

    def consumers(self, queue: str) -> list[str] | None:
        """Live workers consuming `queue`; None when a live worker did not say its queues."""
        if any(not queues for queues in self.alive.values()):
            return None
        return [host for host, queues in self.alive.items() if queue in queues]


class StuckCheck:
    """Tells whether jobs are stuck, and why; reads the heartbeats once, only if needed."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.after = stuck_after()

    @cached_property
    def workers(self) -> Workers:
        return Workers.at(self.now)

    def is_stuck(self, job: Job) -> bool:
        """Queued, and not sent to a worker (or sent again) within `stuck_after()`."""
        sent = job.dispatched_at or job.created_at
        return job.status == JobStatus.QUEUED and self.now - sent >= self.after

    def reason(self, job: Job) -> str | None:
        """Why a stuck job waits, in a sentence; None when it is not stuck."""
        if not self.is_stuck(job):
            return None
        waited = f"Queued for {timesince(job.created_at, self.now)}"
        if not is_dispatched(job.kind):
            return f"{waited}: it runs in the web request, which did not finish."
        if job.dispatched_at is None:
            return f"{waited}: its task was never sent to the broker (was the broker down?)."
        workers = self.workers
        if not workers.alive:
            seen = (f"the last heartbeat was {timesince(workers.last_seen, self.now)} ago"
                    if workers.last_seen else "no worker has ever sent a heartbeat")
            return f"{waited}: no worker is running ({seen})."
        queue = queue_of(job.kind)
        consumers = workers.consumers(queue) if queue else None
        if consumers == []:
            seen = ", ".join(f"{host} [{', '.join(queues)}]"
                             for host, queues in sorted(workers.alive.items()))
            return f"{waited}: no running worker consumes the '{queue}' queue (running: {seen})."
        if queue and workers.running[queue]:
            return (f"{waited}: the '{queue}' workers are busy "
                    f"({workers.running[queue]} job(s) running); it should start after them.")
        return f"{waited}; no worker has taken it."

"""Read-only numbers about the machinery: queue, leases, jobs, schedule, workers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

from django.db.models import Count, F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from annotation.models import LIVE_STATUSES, EntryStatus, QueueEntry, QueueReason
from jobs.models import ACTIVE_STATUSES, Job, JobKind, JobStatus, WorkerHeartbeat
from jobs.stuck import WORKER_ALIVE, StuckCheck
from learning.models import CurrentModel, ModelVersion, VersionStatus
from learning.training.triggers import SCHEDULE_PREFIX, new_labels_since_last_model
from projects.models import Project

FAILED_JOBS_SHOWN = 10
FAILED_WITHIN = timedelta(days=7)
ERROR_CHARS = 2000


class ReasonCount(TypedDict):
    reason: str
    label: str
    open: int
    leased: int


class Lease(TypedDict):
    entry_id: int
    frame_id: int
    annotator: str | None
    reason: str
    expires_at: datetime | None
    expired: bool


class JobRow(TypedDict):
    id: int
    kind: str
    kind_label: str
    status: str
    progress: float
    message: str
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stuck_reason: str | None  # None unless queued too long (jobs.stuck)


class Schedule(TypedDict):
    enabled: bool
    every: str
    last_run_at: datetime | None
    next_run_at: datetime | None
    retrain_after_labels: int
    new_labels: int


class Heartbeat(TypedDict):
    hostname: str
    seen_at: datetime
    age_s: float
    alive: bool
    queues: list[str]


class Operations(TypedDict):
    queue: list[ReasonCount]
    queue_total: int
    leases: list[Lease]
    jobs: list[JobRow]
    last_model_at: datetime | None
    current_model_at: datetime | None
    schedule: Schedule
    workers: list[Heartbeat]


def queue_by_reason(project: Project) -> list[ReasonCount]:
    """Open and leased entries per reason, in the order reasons are declared."""
    counts = {(r, s): n for r, s, n in QueueEntry.objects
              .filter(project=project, status__in=LIVE_STATUSES)
              .values_list("reason", "status").annotate(n=Count("id")).order_by()}
    return [{"reason": reason.value, "label": str(reason.label),
             "open": counts.get((reason.value, EntryStatus.OPEN), 0),
             "leased": counts.get((reason.value, EntryStatus.LEASED), 0)}
            for reason in QueueReason
            if counts.get((reason.value, EntryStatus.OPEN)) or
            counts.get((reason.value, EntryStatus.LEASED))]


def leases(project: Project, now: datetime) -> list[Lease]:
    """Leases held now (expired ones too, until someone else claims the frame)."""
    rows = (QueueEntry.objects.filter(project=project, status=EntryStatus.LEASED)
            .select_related("leased_to").order_by("lease_expires_at"))
    return [{"entry_id": e.pk, "frame_id": e.frame_id,
             "annotator": e.leased_to.username if e.leased_to else None, "reason": e.reason,
             "expires_at": e.lease_expires_at,
             "expired": e.lease_expires_at is not None and e.lease_expires_at <= now}
            for e in rows]


def _job_row(job: Job, check: StuckCheck) -> JobRow:
    return {"id": job.pk, "kind": job.kind, "kind_label": job.get_kind_display(),
            "status": job.status, "progress": max(0.0, min(1.0, job.progress or 0.0)),
            "message": job.message, "error": job.error[-ERROR_CHARS:],
            "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at, "stuck_reason": check.reason(job)}


def jobs(project: Project, now: datetime) -> list[JobRow]:
    """Queued and running jobs, then training/distillation/scoring/analysis failures of the
    last week."""
    jobs_ = Job.objects.filter(project=project)
    active = list(jobs_.filter(status__in=ACTIVE_STATUSES).order_by("created_at"))
    failed = list(jobs_.filter(status=JobStatus.FAILED, created_at__gte=now - FAILED_WITHIN,
                               kind__in=[JobKind.TRAIN, JobKind.DISTILL, JobKind.SCORE,
                                         JobKind.ANALYZE])
                  .order_by("-created_at")[:FAILED_JOBS_SHOWN])
    check = StuckCheck(now)
    return [_job_row(j, check) for j in active + failed]


def _interval_text(task: PeriodicTask) -> str:
    if task.interval is not None:
        return f"every {task.interval.every} {task.interval.period}"
    return str(task.crontab or task.solar or task.clocked or "")


def next_run(task: PeriodicTask, now: datetime) -> datetime | None:
    """When beat will next start the task (interval schedules; None for others or disabled)."""
    if not task.enabled or task.interval is None:
        return None
    step = timedelta(**{task.interval.period: task.interval.every})
    base = task.last_run_at or task.start_time or task.date_changed or now
    due = base + step
    return max(due, now) if task.last_run_at else due


def schedule(project: Project, now: datetime) -> Schedule:
    """The project's retraining schedule and its label trigger."""
    task = (PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked")
            .filter(name=f"{SCHEDULE_PREFIX}{project.pk}").first())
    return {
        "enabled": bool(task and task.enabled),
        "every": _interval_text(task) if task else "",
        "last_run_at": task.last_run_at if task else None,
        "next_run_at": next_run(task, now) if task else None,
        "retrain_after_labels": project.retrain_after_labels,
        "new_labels": new_labels_since_last_model(project.pk),
    }


def workers(now: datetime) -> list[Heartbeat]:
    """Every worker's last heartbeat (workers are shared by all projects)."""
    return [{"hostname": h.hostname, "seen_at": h.seen_at,
             "age_s": round((now - h.seen_at).total_seconds(), 1),
             "alive": now - h.seen_at <= WORKER_ALIVE, "queues": list(h.queues or [])}
            for h in WorkerHeartbeat.objects.order_by("hostname")]


def operations(project: Project, now: datetime | None = None) -> Operations:
    """Everything the queue and jobs panels of the dashboard show."""
    now = now or timezone.now()
    by_reason = queue_by_reason(project)
    last = (ModelVersion.objects.filter(project=project, status=VersionStatus.READY)
            .order_by(F("finished_at").desc(nulls_last=True), "-iteration")
            .values_list("finished_at", "created_at").first())
    pointer = CurrentModel.objects.select_related("version").filter(project=project).first()
    return {
        "queue": by_reason,
        "queue_total": sum(r["open"] + r["leased"] for r in by_reason),
        "leases": leases(project, now),
        "jobs": jobs(project, now),
        "last_model_at": (last[0] or last[1]) if last else None,
        "current_model_at": (pointer.version.finished_at or pointer.version.created_at)
        if pointer else None,
        "schedule": schedule(project, now),
        "workers": workers(now),
    }

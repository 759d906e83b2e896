"""Celery tasks of the learning app: thin wrappers; `train_*` tasks go to the training queue.

The worker imports only each app's `tasks` module (`app.autodiscover_tasks()`), so the tasks
that live in other modules of this app are imported here; a worker that lacks one drops its
messages as "unregistered". `tests/system/test_worker_registry.py` compares the names a real
worker lists at start-up with every task the code defines.
"""

from __future__ import annotations

from celery import shared_task

from jobs.progress import JobCancelled, running
from learning.analysis_tasks import (  # noqa: F401 (registered with the worker)
    analyze_chunk_task,
    analyze_video_task,
    merge_analysis_task,
)
from learning.selection_tasks import score_project_task  # noqa: F401 (registered with the worker)


@shared_task(acks_late=True)
def train_model_task(version_id: int, job_id: int) -> None:
    """Train, evaluate and maybe promote a queued model version."""
    from learning.training import job_result, train_project

    try:
        with running(job_id) as job:
            job.result = job_result(train_project(version_id, job_id=job_id))
    except JobCancelled:
        return


@shared_task(acks_late=True, ignore_result=True)
def train_scheduled_task(project_id: int) -> None:
    """The project's periodic retraining (django_celery_beat), if there are new labels."""
    from learning.triggers import scheduled_retrain

    scheduled_retrain(project_id)

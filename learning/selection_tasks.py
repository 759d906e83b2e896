"""Celery task of active learning; its name matches `learning.*score_*` (the inference queue)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def score_project_task(project_id: int, version_id: int, job_id: int | None = None) -> None:
    """Score candidate frames with the version and refill the project's queue (a "score" job)."""
    from learning.scoring import run_scoring_job

    run_scoring_job(project_id, version_id, job_id)

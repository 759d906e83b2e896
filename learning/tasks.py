"""Every Celery task of the learning app: thin wrappers over plain functions.

The worker imports each app's `tasks` module only (`app.autodiscover_tasks()`), so every task
of the app lives here; `tests/system/test_worker_registry.py` compares the names a real worker
lists at start-up with every task the source defines. Routing is by name
(settings.CELERY_TASK_ROUTES): `train_*` and `distill_*` go to the training queue, `score_*`
and `analyze_*` to the inference queue.

Video analysis is a chord of chunk tasks, then a merge. A chord needs a result backend;
without one (`CELERY_RESULT_BACKEND` unset) the first task runs every chunk itself, in order.
Only the chunks store a result (the chord collects them); `bench fanout` measures the speed-up.
"""

from __future__ import annotations

from celery import chord, shared_task

from jobs.progress import JobCancelled, running
from learning.analysis import videos as analysis


@shared_task(acks_late=True)
def train_model_task(version_id: int, job_id: int) -> None:
    """Train, evaluate and maybe promote a queued model version."""
    from learning.training.runs import job_result, train_project

    try:
        with running(job_id) as job:
            job.result = job_result(train_project(version_id, job_id=job_id))
    except JobCancelled:
        return


@shared_task(acks_late=True)
def distill_model_task(version_id: int, job_id: int) -> None:
    """Distil a queued student version from its teacher (a "fast model"), then evaluate it."""
    from learning.training.distill import distill_project, job_result

    try:
        with running(job_id) as job:
            job.result = job_result(distill_project(version_id, job_id=job_id))
    except JobCancelled:
        return


@shared_task(acks_late=True, ignore_result=True)
def train_scheduled_task(project_id: int) -> None:
    """The project's periodic retraining (django_celery_beat), if there are new labels."""
    from learning.training.triggers import scheduled_retrain

    scheduled_retrain(project_id)


@shared_task(acks_late=True, ignore_result=True)
def score_project_task(project_id: int, version_id: int, job_id: int | None = None) -> None:
    """Score candidate frames with the version and refill the project's queue (a "score" job)."""
    from learning.selection.scoring import run_scoring_job

    run_scoring_job(project_id, version_id, job_id)


# --- video analysis ---------------------------------------------------------------------------

def _has_result_backend() -> bool:
    from poseloop.celery import app

    return bool(app.conf.task_always_eager or app.conf.result_backend)


@shared_task(acks_late=True)
def analyze_video_task(job_id: int) -> None:
    """Claim the job and fan its chunks out (or run them all here without a result backend)."""
    if not _has_result_backend():
        try:
            analysis.run_analysis(job_id)
        except JobCancelled:
            return
        return
    try:
        job = analysis.claim(job_id)
        ranges = analysis.chunk_ranges(job)
    except JobCancelled:
        return
    except Exception as exc:
        analysis.fail(job_id, exc)
        raise
    header = [analyze_chunk_task.si(job_id, start, stop) for start, stop in ranges]
    chord(header)(analyze_merge_task.si(job_id))


# The one task whose result is stored (CELERY_TASK_IGNORE_RESULT is on): a chord counts its
# parts' results in the backend before it sends the merge.
@shared_task(acks_late=True, ignore_result=False)
def analyze_chunk_task(job_id: int, start: int, stop: int | None) -> str | None:
    """Analyse one frame range into a part file; a failure fails the whole job."""
    try:
        return analysis.analyze_chunk(job_id, start, stop)
    except JobCancelled:
        return None
    except Exception as exc:
        analysis.fail(job_id, exc)
        raise


@shared_task(acks_late=True)
def analyze_merge_task(job_id: int) -> None:
    """Merge the parts in frame order and publish the pose tables."""
    try:
        analysis.merge(job_id)
    except JobCancelled:
        return
    except Exception as exc:
        analysis.fail(job_id, exc)
        raise

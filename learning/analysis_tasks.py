"""Celery tasks for video analysis: a chord of chunk tasks, then a merge. Thin wrappers.

All three names match ``learning.*analyze_*`` and so go to the ``inference`` queue, where
several worker processes take the chunks in parallel. A chord needs a result backend; without
one (``CELERY_RESULT_BACKEND`` unset) the first task runs every chunk itself, in order.
Only the chunks store a result (the chord collects them); `bench fanout` measures the speed-up.
"""

from __future__ import annotations

from celery import chord, shared_task

from jobs.progress import JobCancelled
from learning import analysis


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
    chord(header)(merge_analysis_task.si(job_id))


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


@shared_task(acks_late=True, name="learning.analysis_tasks.analyze_merge_task")
def merge_analysis_task(job_id: int) -> None:
    """Merge the parts in frame order and publish the pose tables."""
    try:
        analysis.merge(job_id)
    except JobCancelled:
        return
    except Exception as exc:
        analysis.fail(job_id, exc)
        raise

"""Celery tasks of the videos app: thin wrappers that own retries and progress."""

from __future__ import annotations

from celery import shared_task

from jobs.progress import JobCancelled, report, running
from videos.extraction import Strategy, extract
from videos.models import Video


@shared_task(acks_late=True)
def extract_frames_task(job_id: int) -> None:
    """Run a frame-extraction job (params: video_id, strategy, n, seed)."""
    try:
        with running(job_id) as job:
            video = Video.objects.get(pk=job.params["video_id"])
            created = extract(
                video,
                Strategy(job.params["strategy"]),
                int(job.params["n"]),
                seed=int(job.params.get("seed", 0)),
                progress=lambda fraction, message: report(job_id, fraction, message),
            )
            job.result = {"created": len(created), "frame_ids": created}
    except JobCancelled:
        return

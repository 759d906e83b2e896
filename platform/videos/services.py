"""Starting video work from views and commands."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from jobs.dispatch import dispatch_on_commit
from jobs.models import Job, JobKind
from jobs.progress import create_job
from videos.extraction import Strategy
from videos.models import Video

MAX_FRAMES_PER_EXTRACTION = 2000


def start_extraction(
    video: Video, strategy: Strategy, n: int, *, seed: int = 0, user: AbstractBaseUser | None = None
) -> Job:
    """Queue a frame-extraction job; the task is sent once the job row is committed."""
    job = create_job(
        video.project_id,
        JobKind.EXTRACT_FRAMES,
        user_id=getattr(user, "pk", None),
        params={"video_id": video.pk, "strategy": str(strategy), "n": n, "seed": seed},
    )
    dispatch_on_commit(job)
    return job

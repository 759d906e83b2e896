"""A PI's identity fix on a published multi-animal analysis: store it, write the tables again."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from jobs.models import Job
from learning.analysis.multi import check_swap, record_swap, stored_tracks
from learning.analysis.videos import Manifest, _load, analysis_of, publish
from learning.models import TrackSwap
from videos.models import Video


def swap_tracks(video: Video, analysis_id: int, frame: int, track_a: str, track_b: str,
                user: AbstractBaseUser | None) -> tuple[TrackSwap, Manifest]:
    """Swap tracks a and b of the analysis from `frame` on; every table of the analysis is
    written again with all its fixes (the new one last). 404 for an unknown analysis, 400 for
    a single-animal one, unknown tracks or a frame outside the video."""
    manifest = analysis_of(video, analysis_id)
    if manifest is None:
        raise Http404("No such analysis.")
    if not manifest.get("individuals"):
        raise ValidationError({"detail": "This analysis has one animal: nothing to swap."})
    tracks = stored_tracks(manifest["folder"])
    check_swap(tracks, frame, track_a, track_b)
    # The job row lock makes two fixes at once take turns: the later one writes tables that
    # hold both (each publish reads every stored fix).
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=analysis_id)
        swap = record_swap(video, analysis_id, frame, track_a, track_b, user)
        _, version, bodyparts = _load(job)
        return swap, publish(job, video, version, bodyparts, tracks.poses, tracks=tracks)

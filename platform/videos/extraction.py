"""Extracting candidate frames from a video into media storage, re-runnable without duplicates."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import cv2
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from videos.files import local_video_path
from videos.models import Frame, FrameOrigin, Video
from videos.sampling import iter_frames, pick_kmeans, pick_random, pick_uniform
from videos.signals import frames_added

Progress = Callable[[float, str], None]


class Strategy(StrEnum):
    UNIFORM = "uniform"
    RANDOM = "random"
    KMEANS = "kmeans"


def choose_indices(video: Video, strategy: Strategy, n: int, seed: int, path: str) -> list[int]:
    """Frame indices to extract, skipping frames the video already has."""
    exclude = set(video.frames.values_list("frame_index", flat=True))
    if strategy == Strategy.UNIFORM:
        return pick_uniform(video.frame_count, n, exclude=exclude)
    if strategy == Strategy.RANDOM:
        return pick_random(video.frame_count, n, seed=seed, exclude=exclude)
    return pick_kmeans(path, video.frame_count, n, seed=seed, exclude=exclude)


def extract(
    video: Video, strategy: Strategy, n: int, *, seed: int = 0, progress: Progress | None = None
) -> list[int]:
    """Extract up to `n` new frames as PNG images; returns the ids of the frames created.

    Each frame is its own small transaction guarded by the (video, frame_index) unique
    constraint, so two runs at once, or a re-run, never duplicate a frame.
    """
    report = progress or (lambda fraction, message: None)
    created: list[int] = []
    with local_video_path(video) as path:
        report(0.0, f"choosing frames ({strategy})")
        indices = choose_indices(video, strategy, n, seed, str(path))
        for done, (index, bgr) in enumerate(iter_frames(str(path), indices), start=1):
            ok, png = cv2.imencode(".png", bgr)
            if not ok:
                raise RuntimeError(f"could not encode frame {index} as PNG")
            frame = Frame(
                project_id=video.project_id,
                video=video,
                frame_index=index,
                width=bgr.shape[1],
                height=bgr.shape[0],
                origin=FrameOrigin.EXTRACTED,
                extraction_strategy=str(strategy),
            )
            frame.image.save(
                f"v{video.pk}_f{index:07d}.png", ContentFile(png.tobytes()), save=False
            )
            try:
                with transaction.atomic():
                    frame.save()
                created.append(frame.pk)
            except IntegrityError:
                frame.image.delete(save=False)
            report(done / max(len(indices), 1), f"extracted {done}/{len(indices)} frames")
    if created:
        transaction.on_commit(
            lambda: frames_added.send(
                sender=Frame,
                project_id=video.project_id,
                frame_ids=created,
                reason="diversity" if strategy == Strategy.KMEANS else "manual",
            )
        )
    return created

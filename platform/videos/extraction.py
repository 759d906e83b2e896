"""Extracting candidate frames from a video into media storage, re-runnable without duplicates."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum

import cv2
import numpy as np
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


def save_frame(video: Video, index: int, bgr: np.ndarray, origin: FrameOrigin,
               strategy: str = "") -> Frame | None:
    """Store frame `index` of the video as a PNG Frame; None if the video already has it.

    Its own small transaction, guarded by the (video, frame_index) unique constraint.
    """
    ok, png = cv2.imencode(".png", bgr)
    if not ok:
        raise RuntimeError(f"could not encode frame {index} as PNG")
    frame = Frame(project_id=video.project_id, video=video, frame_index=index,
                  width=bgr.shape[1], height=bgr.shape[0], origin=origin,
                  extraction_strategy=strategy)
    frame.image.save(f"v{video.pk}_f{index:07d}.png", ContentFile(png.tobytes()), save=False)
    try:
        with transaction.atomic():
            frame.save()
    except IntegrityError:
        frame.image.delete(save=False)
        return None
    return frame


def frames_at(video: Video, indices: Iterable[int], origin: FrameOrigin = FrameOrigin.IMPORTED,
              progress: Progress | None = None) -> dict[int, Frame]:
    """The video's frames at `indices`, extracting those it does not have yet (one pass).

    For imports that name frames by index (SLEAP files); no frames_added signal is sent:
    the importer labels them right away.
    """
    wanted = sorted({int(i) for i in indices})
    found = {f.frame_index: f for f in video.frames.filter(frame_index__in=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        report = progress or (lambda fraction, message: None)
        with local_video_path(video) as path:
            for done, (index, bgr) in enumerate(iter_frames(str(path), missing), start=1):
                frame = save_frame(video, index, bgr, origin)
                found[index] = frame or video.frames.get(frame_index=index)
                if done % 50 == 0:
                    report(done / len(missing), f"extracted {done}/{len(missing)} frames")
    absent = [i for i in wanted if i not in found]
    if absent:
        raise ValueError(f"video {video.name} has no frame(s) {absent[:5]} "
                         f"({video.frame_count} frames)")
    return found


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
            frame = save_frame(video, index, bgr, FrameOrigin.EXTRACTED, str(strategy))
            if frame is not None:
                created.append(frame.pk)
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

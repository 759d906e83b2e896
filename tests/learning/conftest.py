"""Fixtures for the learning app: projects with synthetic labeled frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files import File

from annotation.labels import import_label
from projects.models import Project
from videos.models import Frame, FrameOrigin
from videos.synthetic import write_images


def add_labeled_frames(project: Project, folder: Path, n: int, *, seed: int = 0,
                       stride: int = 3, label: bool = True) -> list[Frame]:
    """n synthetic 160x120 frames of the project, each labeled (imported) with exact keypoints.

    The project's skeleton must be the default one (snout, leftear, rightear, tailbase).
    """
    images = write_images(folder / f"seed{seed}", n, seed=seed, stride=stride)
    parts = list(project.bodyparts.order_by("order", "id").values_list("pk", flat=True))
    frames = []
    for path, keypoints in zip(images.paths, images.keypoints, strict=True):
        frame = Frame(project=project, width=160, height=120, origin=FrameOrigin.IMPORTED,
                      external_path=f"labeled-data/s{seed}/{path.name}")
        with path.open("rb") as fh:
            frame.image.save(f"s{seed}-{path.name}", File(fh), save=True)
        if label:
            points = [{"bodypart": pk, "x": float(x), "y": float(y), "state": "visible"}
                      for pk, (x, y) in zip(parts, keypoints[0], strict=True)]
            import_label(project, frame, points)
        frames.append(frame)
    return frames


@pytest.fixture
def labeled_frames(tmp_path) -> Callable[..., list[Frame]]:
    """labeled_frames(project, n, seed=0) → frames with imported labels."""

    def make(project: Project, n: int, **kwargs) -> list[Frame]:
        return add_labeled_frames(project, tmp_path, n, **kwargs)

    return make

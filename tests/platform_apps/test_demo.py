"""The demo project: the colours its video draws are the colours its labeling page shows."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from projects.management.commands.demo import DEMO_VIDEO
from projects.models import Project
from tests.videofactory import decode_all
from videos.synthetic import BODYPARTS, hex_to_bgr, render_frame

FRAMES = 40


@pytest.fixture
def demo(settings, tmp_path) -> Project:
    settings.VAR_DIR = tmp_path
    call_command("demo", frames=4, video_frames=FRAMES)
    return Project.objects.get(name__startswith="Demo")


def _marker_colour(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """Mean BGR of the 3x3 pixels around (x, y): the middle of a drawn marker."""
    i, j = round(y), round(x)
    return image[i - 1 : i + 2, j - 1 : j + 2].reshape(-1, 3).astype(float).mean(axis=0)


@pytest.mark.django_db
def test_each_part_is_drawn_in_its_bodypart_colour(demo):
    colours = {bp.name: np.array(hex_to_bgr(bp.color), float) for bp in demo.bodyparts.all()}
    assert sorted(colours) == sorted(BODYPARTS)
    video = demo.videos.get()
    frames = decode_all(video.file.path)
    assert len(frames) == FRAMES
    for index in (0, 13, 27, 39):
        _, keypoints = render_frame(index, width=DEMO_VIDEO["width"],
                                    height=DEMO_VIDEO["height"], seed=DEMO_VIDEO["seed"])
        for part, (x, y) in zip(BODYPARTS, keypoints[0], strict=True):
            drawn = _marker_colour(frames[index], x, y)
            # Lossy mp4: close to its own colour, and nearer to it than to any other part's.
            distances = {name: np.linalg.norm(drawn - c) for name, c in colours.items()}
            assert distances[part] < 60, (index, part, drawn, demo.bodyparts.get(name=part).color)
            assert min(distances, key=distances.get) == part, (index, part, distances)

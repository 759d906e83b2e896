"""`bench score`: the scoring benchmark prints its figures, last line JSON."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.videofactory import make_video


@pytest.mark.slow
@pytest.mark.django_db
def test_bench_score_prints_the_figures_last(project, tmp_path):
    video = make_video(tmp_path, n_frames=24)
    out = io.StringIO()
    call_command("bench", "score", "--project", project.name, "--video", str(video.path),
                 "--frames", "24", "--batch", "8", "--repeats", "1", "--pick", "4",
                 stdout=out)
    text = out.getvalue()
    assert "random weights" in text and "repeat 0:" in text
    result = json.loads(text.strip().splitlines()[-1])
    assert result["frames"] == 24
    assert result["fps_scoring"] > 0 and result["fps_inference"] > 0
    assert 0 <= result["overhead_share"] < 1 and 0 < result["forward_share"] <= 1
    # the two ways of saying the same thing agree
    assert result["extra_cost"] == pytest.approx(
        result["fps_inference"] / result["fps_scoring"] - 1, abs=0.02)


@pytest.mark.django_db
def test_bench_score_needs_a_video(project):
    with pytest.raises(CommandError, match="no video"):
        call_command("bench", "score", "--project", project.name, "--frames", "4")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("bench", "score", "--project", "no-such-project")

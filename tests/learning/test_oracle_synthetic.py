"""The redundant synthetic oracle pool: mostly resting, two short light changes, exact labels."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from learning.engine.data import load_image
from learning.oracle import load_oracle_data
from learning.oracle_synthetic import plan_video
from videos.synthetic import render_frame


def test_the_plan_is_mostly_rest_with_two_short_rare_scenes():
    plan = plan_video(240, move=12, rest=36, rare=12)
    moving = np.flatnonzero(np.diff(plan.pose_index) != 0) + 1
    assert len(moving) == 240 // 48 * 12 - 1  # the first frame starts the first move
    assert np.bincount(plan.scene).tolist() == [216, 12, 12]
    # resting frames repeat the pose of the last moving frame
    assert plan.pose_index[20] == plan.pose_index[11] != plan.pose_index[10]


def test_bad_plans_are_refused():
    with pytest.raises(ValueError):
        plan_video(20, rare=12)
    with pytest.raises(ValueError):
        plan_video(100, move=0)


def test_the_written_project_reads_back_with_exact_labels(tmp_path, capsys):
    call_command("make_redundant_dlc", str(tmp_path / "pool"), "--frames", "60")
    assert "wrote 60 labeled frames" in capsys.readouterr().out
    data = load_oracle_data(tmp_path / "pool")
    assert len(data.samples) == 60 and data.keypoint_names[0] == "snout"
    assert data.flip_pairs == ((1, 2),)  # leftear / rightear
    plan = plan_video(60)
    for row in (0, 11, 30, 59):
        _, truth = render_frame(int(plan.pose_index[row]), seed=0)
        assert np.allclose(data.samples[row].keypoints, truth[0], atol=1e-3)
        assert load_image(data.samples[row].image_path).shape == (120, 160, 3)
    # near-duplicates differ only by sensor noise; a moving frame differs by much more
    rest_a, rest_b = (load_image(data.samples[r].image_path).astype(float) for r in (20, 21))
    moved = load_image(data.samples[50].image_path).astype(float)
    assert np.abs(rest_a - rest_b).mean() < 5 < np.abs(rest_a - moved).mean()


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("make_redundant_dlc", str(tmp_path))
    assert (tmp_path / "keep.txt").read_text() == "x"

"""A multi-animal analysis whose model finds no animal in any frame still writes valid tables
(one empty track) instead of failing the job."""

from __future__ import annotations

import numpy as np
import pytest

from learning.analysis.multi import track_animals, write_multi_files
from learning.formats.pose_table import read_pose_table
from tests.factories import ProjectFactory


@pytest.mark.django_db
def test_no_animal_found_gives_one_empty_track_and_valid_tables(tmp_path):
    project = ProjectFactory(max_animals=2)
    nothing = np.full((12, 2, 5, 3), np.nan)
    tracks = track_animals(nothing, project)
    assert tracks.names == ["track_0"]
    assert tracks.poses.shape == (12, 1, 5, 3) and np.isnan(tracks.poses).all()
    files = write_multi_files(tmp_path, "clip", "PoseLoop_v1", ["a", "b", "c", "d", "e"], tracks)
    table = read_pose_table(tmp_path / files[0])
    assert table.individuals == ["track_0"]
    assert table.poses.shape[:2] == (12, 1) and np.isnan(table.poses[..., :2]).all()

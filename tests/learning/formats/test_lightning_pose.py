"""Lightning Pose label folders: CollectedData.csv beside labeled-data/, no config.yaml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from learning.formats.dlc import read_dlc_project
from learning.formats.errors import FormatError
from learning.formats.lightning_pose import read_lightning_pose

# As Lightning Pose's example data: DeepLabCut's 3 header rows, paths relative to the folder.
LP_CSV = (
    "scorer,lp,lp,lp,lp,lp,lp\n"
    "bodyparts,paw1,paw1,paw2,paw2,nose,nose\n"
    "coords,x,y,x,y,x,y\n"
    "labeled-data/mouse1/img0001.png,10.5,20,30,40,,\n"
    "labeled-data/mouse1/img0007.png,11,21,31,41,51,61\n"
    "labeled-data/mouse2/img0003.png,12,22,,,52,62\n"
)
IMAGES = {
    "labeled-data/mouse1/img0001.png": (96, 64),
    "labeled-data/mouse1/img0007.png": (96, 64),
    "labeled-data/mouse2/img0003.png": (128, 80),
}


def _folder(root: Path, csv: str = LP_CSV, skip: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "CollectedData.csv").write_text(csv)
    for rel, size in IMAGES.items():
        if rel not in skip:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", size).save(root / rel)
    return root


def test_reads_labels_and_image_sizes(tmp_path: Path) -> None:
    frames = read_lightning_pose(_folder(tmp_path / "lp"))
    assert frames.bodyparts == ["paw1", "paw2", "nose"]
    assert frames.image_paths == list(IMAGES)
    assert frames.image_sizes == list(IMAGES.values())
    assert frames.scorer == "lp" and frames.n_individuals == 1
    assert frames.keypoints.shape == (3, 1, 3, 2)
    np.testing.assert_array_equal(frames.keypoints[0, 0, 0], [10.5, 20.0])
    assert np.isnan(frames.keypoints[0, 0, 2]).all() and np.isnan(frames.keypoints[2, 0, 1]).all()


def test_the_deeplabcut_reader_refuses_the_same_folder(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="config.yaml"):
        read_dlc_project(_folder(tmp_path / "lp"))


def test_missing_images_are_listed(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "lp", skip=tuple(list(IMAGES)[1:]))
    with pytest.raises(FormatError) as info:
        read_lightning_pose(folder)
    message = str(info.value)
    assert "2 labeled image(s) missing" in message
    assert "labeled-data/mouse1/img0007.png, labeled-data/mouse2/img0003.png" in message
    assert "img0001" not in message


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (LP_CSV.replace("labeled-data/mouse2", "../elsewhere"), "relative to the folder"),
        (LP_CSV.replace("labeled-data/mouse2", "/abs"), "relative to the folder"),
        (LP_CSV.replace("coords,", "coordinates,"), "scorer / bodyparts / coords"),
        (LP_CSV.replace("31,41", "31,"), "only one of x, y"),
    ],
)
def test_bad_label_files(tmp_path: Path, csv: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_lightning_pose(_folder(tmp_path / "lp", csv))


def test_folder_without_labels(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no CollectedData.csv"):
        read_lightning_pose(tmp_path)
    with pytest.raises(FormatError, match="not a folder"):
        read_lightning_pose(tmp_path / "nothing")


@pytest.mark.django_db
def test_import_dlc_takes_a_lightning_pose_folder(tmp_path: Path) -> None:
    """The DeepLabCut import (command and zip upload) recognises a Lightning Pose folder."""
    from io import StringIO

    from django.core.management import call_command

    from annotation.instances import instances_of
    from annotation.models import Label
    from projects.models import Project

    folder = _folder(tmp_path / "lp")
    call_command("import_dlc", str(folder), "--project", "lp-mice", stdout=StringIO())
    project = Project.objects.get(name="lp-mice")
    assert project.bodypart_names() == ["paw1", "paw2", "nose"]
    label = Label.objects.get(frame__external_path="labeled-data/mouse2/img0003.png")
    points = instances_of(label.points)[0]["points"]
    assert [p["state"] for p in points] == ["visible", "absent", "visible"]
    assert (points[0]["x"], points[0]["y"]) == (12.0, 22.0)

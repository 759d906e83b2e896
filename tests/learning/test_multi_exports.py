"""Exporting a two-animal project as DeepLabCut, COCO and SLEAP, and importing it back."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from django.core.files.base import ContentFile
from PIL import Image

from annotation.agreement import consensus_instances
from annotation.labels import import_label
from learning.exchange.exporting import (
    assign_slots,
    collect_dataset,
    export_coco,
    export_dlc,
    export_sleap,
)
from learning.exchange.importing import import_coco, run_dlc_import
from learning.formats.coco import read_coco
from learning.formats.dlc import read_dlc_project
from learning.formats.errors import FormatError
from learning.formats.sleap import read_slp
from projects.models import Project
from tests.factories import MembershipFactory, ProjectFactory
from videos.models import Frame, FrameOrigin

pytestmark = pytest.mark.django_db

SIZE = (80, 60)
# Each animal's four parts (snout, leftear, rightear, tailbase) on three frames; frame 2
# shows only the second animal.
ALICE = [[(10, 10), (14, 8), (14, 12), (30, 10)], [(12, 11), (16, 9), (16, 13), (32, 11)]]
BOB = [[(50, 40), (54, 38), (54, 42), (70, 40)], [(48, 41), (52, 39), (52, 43), (68, 41)],
       [(46, 42), (50, 40), (50, 44), (66, 42)]]


def make_frames(project: Project, n: int = 3) -> list[Frame]:
    frames = []
    for i in range(n):
        frame = Frame(project=project, width=SIZE[0], height=SIZE[1],
                      origin=FrameOrigin.IMPORTED,
                      external_path=f"labeled-data/pair/img{i:03d}.png")
        buffer = io.BytesIO()
        Image.new("RGB", SIZE, (30 + 40 * i, 60, 90)).save(buffer, format="PNG")
        frame.image.save(f"pair_{project.pk}_{i}.png", ContentFile(buffer.getvalue()), save=False)
        frame.save()
        frames.append(frame)
    return frames


def instance(project: Project, track: str, xy: list[tuple[float, float]],
             occluded: int | None = None, absent: int | None = None) -> dict:
    parts = list(project.bodyparts.order_by("order", "id"))
    points = []
    for k, (bp, (x, y)) in enumerate(zip(parts, xy, strict=True)):
        if k == absent:
            points.append({"bodypart": bp.pk, "x": None, "y": None, "state": "absent"})
        else:
            state = "occluded" if k == occluded else "visible"
            points.append({"bodypart": bp.pk, "x": float(x), "y": float(y), "state": state})
    return {"track": track, "points": points}


def label_pair(project: Project, tracks: tuple[str, str]) -> list[Frame]:
    """Three frames: both animals (listed in either order), then the second animal alone."""
    a, b = tracks
    frames = make_frames(project)
    import_label(project, frames[0], [instance(project, a, ALICE[0], occluded=1),
                                      instance(project, b, BOB[0])])
    import_label(project, frames[1], [instance(project, b, BOB[1], absent=3),
                                      instance(project, a, ALICE[1])])
    import_label(project, frames[2], [instance(project, b, BOB[2])])
    return frames


def expected_keypoints() -> np.ndarray:
    """(frames, 2, 4, 2): alice in slot 0, bob in slot 1, NaN where not labeled."""
    kp = np.full((3, 2, 4, 2), np.nan)
    kp[0, 0], kp[0, 1] = ALICE[0], BOB[0]
    kp[1, 0], kp[1, 1] = ALICE[1], BOB[1]
    kp[1, 1, 3] = np.nan
    kp[2, 1] = BOB[2]
    return kp


@pytest.fixture
def named(db) -> Project:
    project = ProjectFactory(name="Pair", max_animals=2, individuals=["alice", "bob"])
    label_pair(project, ("alice", "bob"))
    return project


@pytest.fixture
def anonymous(db) -> Project:
    project = ProjectFactory(name="Flies", max_animals=2)
    label_pair(project, ("fly_a", "fly_b"))
    return project


# --- slots ---------------------------------------------------------------------------------


def test_slots_follow_tracks_and_first_come_names():
    names = ["individual_0", "individual_1"]
    assert assign_slots([["b", "a"], ["a", "b"], ["", "b"], ["individual_1"]], names) == [
        [0, 1], [1, 0], [1, 0], [1]]
    assert assign_slots([["", ""], ["c"]], names) == [[0, 1], [0]]


def test_named_project_collects_one_slot_per_individual(named):
    frames = collect_dataset(named).frames
    assert frames.individuals == ["alice", "bob"]
    assert frames.n_individuals == 2 and frames.n_frames == 3
    np.testing.assert_array_equal(frames.keypoints, expected_keypoints())
    assert frames.visibility[0, 0, 1] == 1 and frames.visibility[1, 1, 3] == 0
    assert not frames.visibility[2, 0].any()


def test_multi_animal_project_without_labels_cannot_be_exported(db):
    project = ProjectFactory(max_animals=3)
    make_frames(project, 1)
    with pytest.raises(FormatError, match="no submitted or accepted labels"):
        collect_dataset(project)


def test_anonymous_tracks_keep_their_slot_from_frame_to_frame(anonymous):
    frames = collect_dataset(anonymous).frames
    assert frames.individuals == ["individual_0", "individual_1"]
    np.testing.assert_array_equal(frames.keypoints, expected_keypoints())


# --- each format, read back ----------------------------------------------------------------


def test_dlc_export_is_a_multi_animal_project(named, tmp_path):
    config_path = export_dlc(named, tmp_path / "dlc")
    config = yaml.safe_load(config_path.read_text())
    assert config["multianimalproject"] is True and config["identity"] is True
    assert config["individuals"] == ["alice", "bob"]
    assert config["multianimalbodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    table = pd.read_hdf(tmp_path / "dlc/labeled-data/pair/CollectedData_poseloop.h5")
    assert table.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(table.columns.get_level_values("individuals").unique()) == ["alice", "bob"]
    back = read_dlc_project(tmp_path / "dlc")
    assert back.frames.individuals == ["alice", "bob"]
    np.testing.assert_array_equal(back.frames.keypoints, expected_keypoints())
    assert all(f.is_file() for f in back.image_files)


def test_movement_reads_the_dlc_labels_with_both_animals(anonymous, tmp_path):
    load_poses = pytest.importorskip("movement.io.load_poses")
    export_dlc(anonymous, tmp_path / "dlc")
    ds = load_poses.from_dlc_file(tmp_path / "dlc/labeled-data/pair/CollectedData_poseloop.h5")
    assert list(ds.individuals.values) == ["individual_0", "individual_1"]
    position = ds.position.transpose("time", "individuals", "keypoints", "space").values
    np.testing.assert_array_equal(position, expected_keypoints())


def test_coco_export_has_one_annotation_per_animal(named, tmp_path):
    path = export_coco(named, tmp_path / "coco/annotations.json", images_dir=tmp_path / "coco")
    back = read_coco(path)
    assert back.individuals == ["alice", "bob"]
    np.testing.assert_array_equal(back.keypoints, expected_keypoints())
    assert back.visibility[0, 0, 1] == 1  # occluded is kept
    annotations = json.loads(path.read_text())["annotations"]
    assert [(a["image_id"], a["track"]) for a in annotations] == [
        (1, "alice"), (1, "bob"), (2, "alice"), (2, "bob"), (3, "bob")]
    assert (tmp_path / "coco/labeled-data/pair/img002.png").is_file()


def test_sleap_export_has_instances_and_tracks(named, tmp_path):
    sio = pytest.importorskip("sleap_io")
    path = export_sleap(named, tmp_path / "slp/labels.slp", images_dir=tmp_path / "slp")
    labels = sio.load_slp(str(path), open_videos=False)
    assert [t.name for t in labels.tracks] == ["alice", "bob"]
    assert [[i.track.name for i in lf.instances] for lf in labels.labeled_frames] == [
        ["alice", "bob"], ["alice", "bob"], ["bob"]]
    back = read_slp(path)
    assert back.individuals == ["alice", "bob"]
    np.testing.assert_array_equal(back.keypoints, expected_keypoints())


# --- round trips into new projects ---------------------------------------------------------


def _instances(project: Project) -> list[list[tuple[str, np.ndarray]]]:
    """Per labeled frame (by image path): (track, keypoints (K, 2)) of each animal."""
    ids, kp, _, tracks = consensus_instances(project)
    paths = dict(Frame.objects.filter(pk__in=ids).values_list("pk", "external_path"))
    order = sorted(range(len(ids)), key=lambda i: paths[ids[i]])
    return [sorted(((t, kp[i, j]) for j, t in enumerate(tracks[i])), key=lambda p: p[0])
            for i in order]


def assert_same_instances(a: Project, b: Project) -> None:
    left, right = _instances(a), _instances(b)
    assert [[t for t, _ in f] for f in left] == [[t for t, _ in f] for f in right]
    for fa, fb in zip(left, right, strict=True):
        for (_, xa), (_, xb) in zip(fa, fb, strict=True):
            np.testing.assert_array_equal(xa, xb)


def test_exported_dlc_project_imports_into_a_new_project(named, tmp_path):
    export_dlc(named, tmp_path / "dlc")
    summary = run_dlc_import(tmp_path / "dlc", project_name="Pair copy")
    copy = summary.project
    assert summary.project_created and summary.frames_created == 3
    assert copy.max_animals == 2 and copy.individuals == ["alice", "bob"]
    assert copy.bodypart_names() == named.bodypart_names()
    assert_same_instances(named, copy)
    # DeepLabCut keeps no occlusion flag, so alice's occluded ear comes back visible.
    assert collect_dataset(copy).frames.visibility[0, 0, 1] == 2


def test_anonymous_dlc_round_trip_names_the_animals_by_slot(anonymous, tmp_path):
    export_dlc(anonymous, tmp_path / "dlc")
    copy = run_dlc_import(tmp_path / "dlc", project_name="Flies copy").project
    assert copy.max_animals == 2 and copy.individuals == []
    tracks = [[t for t, _ in f] for f in _instances(copy)]
    assert tracks == [["individual_0", "individual_1"], ["individual_0", "individual_1"],
                      ["individual_1"]]
    np.testing.assert_array_equal(collect_dataset(copy).frames.keypoints, expected_keypoints())


def test_import_refuses_a_second_animal_outside_its_image(named, tmp_path):
    export_dlc(named, tmp_path / "dlc")
    table_path = tmp_path / "dlc/labeled-data/pair/CollectedData_poseloop.h5"
    table = pd.read_hdf(table_path)
    table.loc[table.index[0], ("poseloop", "bob", "tailbase", "x")] = 500.0  # 80 px wide
    table.to_hdf(table_path, key="df_with_missing", mode="w")
    (tmp_path / "dlc/labeled-data/pair/CollectedData_poseloop.csv").unlink()
    with pytest.raises(FormatError, match="tailbase in .* lies outside the 80x60 image"):
        run_dlc_import(tmp_path / "dlc", project_name="Out of bounds")
    assert not Project.objects.filter(name="Out of bounds").exists()


def test_exported_coco_imports_into_a_new_project_with_occlusion(named, tmp_path):
    path = export_coco(named, tmp_path / "coco/annotations.json", images_dir=tmp_path / "coco")
    copy = import_coco("Pair coco", path, tmp_path / "coco").project
    assert copy.max_animals == 2
    assert_same_instances(named, copy)
    np.testing.assert_array_equal(collect_dataset(copy).frames.visibility,
                                  collect_dataset(named).frames.visibility)


def test_single_animal_export_stays_single_animal(project, tmp_path):
    frame = make_frames(project, 1)[0]
    import_label(project, frame, instance(project, "", ALICE[0])["points"])
    assert collect_dataset(project).frames.individuals is None
    config = yaml.safe_load(export_dlc(project, tmp_path / "dlc").read_text())
    assert config["multianimalproject"] is False and "individuals" not in config
    table = pd.read_hdf(tmp_path / "dlc/labeled-data/pair/CollectedData_poseloop.h5")
    assert table.columns.names == ["scorer", "bodyparts", "coords"]
    sio = pytest.importorskip("sleap_io")
    path = export_sleap(project, tmp_path / "s.slp")
    assert sio.load_slp(str(path), open_videos=False).tracks == []


# --- through the API -----------------------------------------------------------------------


def test_pi_downloads_a_multi_animal_dlc_zip(named, api):
    pi = MembershipFactory(project=named, role="pi").user
    api.force_authenticate(pi)
    res = api.post(f"/api/projects/{named.pk}/exports/dataset/", {"format": "dlc"},
                   format="json")
    assert res.status_code == 201, res.json()
    data = b"".join(api.get(res.json()["download_url"]).streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        config = next(n for n in zf.namelist() if n.endswith("config.yaml"))
        assert yaml.safe_load(zf.read(config))["individuals"] == ["alice", "bob"]

"""DeepLabCut multi-animal labels (an "individuals" column level) and projects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from learning.formats.collected_data import (
    MULTI_COLUMN_NAMES,
    read_collected_data,
    write_collected_data,
)
from learning.formats.dlc import DLCConfig, read_dlc_project, write_dlc_project
from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames


def _write(frames: LabeledFrames, folder: Path, **kwargs: object) -> tuple[Path, Path]:
    return write_collected_data(
        folder, frames.scorer, frames.bodyparts, frames.image_paths, frames.keypoints,
        individuals=frames.individuals, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize("index_style", ["path", "multi"])
@pytest.mark.parametrize("which", [0, 1])
def test_round_trip_keeps_each_animal_in_its_slot(
    herd_frames: LabeledFrames, tmp_path: Path, index_style: str, which: int
) -> None:
    back = read_collected_data(_write(herd_frames, tmp_path, index_style=index_style)[which])
    assert back.individuals == ["ada", "bob", "cleo"]
    assert back.image_paths == herd_frames.image_paths
    assert back.bodyparts == herd_frames.bodyparts
    np.testing.assert_array_equal(back.keypoints, herd_frames.keypoints)


def test_written_layout_is_deeplabcuts_multi_animal_one(
    herd_frames: LabeledFrames, tmp_path: Path
) -> None:
    h5, csv = _write(herd_frames, tmp_path)
    df = pd.read_hdf(h5, "df_with_missing")
    assert df.columns.names == MULTI_COLUMN_NAMES
    assert df.columns[:2].tolist() == [("tester", "ada", "nose", c) for c in ("x", "y")]
    assert df.columns.get_level_values("individuals").unique().tolist() == ["ada", "bob", "cleo"]
    assert df.loc["labeled-data/cage/img000.png", ("tester", "bob")].isna().all()
    header = csv.read_text().splitlines()[:4]
    assert [line.split(",")[0] for line in header] == MULTI_COLUMN_NAMES
    assert header[1].split(",")[1:] == [n for n in ("ada", "bob", "cleo") for _ in range(6)]


def test_anonymous_animals_get_default_names(herd_frames: LabeledFrames, tmp_path: Path) -> None:
    anonymous = dataclasses.replace(herd_frames, individuals=None)
    back = read_collected_data(_write(anonymous, tmp_path)[0])
    assert back.individuals == ["individual_0", "individual_1", "individual_2"]
    np.testing.assert_array_equal(back.keypoints, herd_frames.keypoints)


@pytest.mark.parametrize("which", [0, 1])
def test_movement_reads_the_individuals(
    herd_frames: LabeledFrames, tmp_path: Path, which: int
) -> None:
    load_poses = pytest.importorskip("movement.io.load_poses")
    ds = load_poses.from_dlc_file(_write(herd_frames, tmp_path)[which])
    assert list(ds.individuals.values) == ["ada", "bob", "cleo"]
    # movement: (time, space, keypoints, individuals); ours: (frames, individuals, keypoints, xy)
    np.testing.assert_array_equal(ds.position.values.transpose(0, 3, 2, 1), herd_frames.keypoints)


# DeepLabCut's own multi-animal CSV: 3 index columns, 4 header rows.
MA_CSV = (
    "scorer,,,S,S,S,S,S,S,S,S\n"
    "individuals,,,m1,m1,m1,m1,m2,m2,m2,m2\n"
    "bodyparts,,,nose,nose,tail,tail,nose,nose,tail,tail\n"
    "coords,,,x,y,x,y,x,y,x,y\n"
    "labeled-data,v,img0.png,1,2,3,4,5,6,7,8\n"
    "labeled-data,v,img1.png,9,10,11,12,,,,\n"
)


def _csv(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "CollectedData_S.csv"
    path.write_text(text)
    return path


def test_deeplabcut_multi_animal_csv_reads(tmp_path: Path) -> None:
    frames = read_collected_data(_csv(tmp_path, MA_CSV))
    assert frames.image_paths == ["labeled-data/v/img0.png", "labeled-data/v/img1.png"]
    assert frames.individuals == ["m1", "m2"] and frames.bodyparts == ["nose", "tail"]
    np.testing.assert_array_equal(frames.keypoints[0, 1], [[5, 6], [7, 8]])
    np.testing.assert_array_equal(frames.keypoints[1, 0], [[9, 10], [11, 12]])
    assert np.isnan(frames.keypoints[1, 1]).all()


def test_expected_individuals_order_the_slots(tmp_path: Path) -> None:
    frames = read_collected_data(_csv(tmp_path, MA_CSV), expected_individuals=["m2", "x", "m1"])
    assert frames.individuals == ["m2", "x", "m1"]
    np.testing.assert_array_equal(frames.keypoints[0, 0], [[5, 6], [7, 8]])
    assert np.isnan(frames.keypoints[:, 1]).all()
    np.testing.assert_array_equal(frames.keypoints[0, 2], [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        (MA_CSV, ["m1"], "unknown individual.s. m2; expected m1"),
        (MA_CSV.replace("m2,m2,m2,m2", "single,single,single,single"), None,
         "unique body parts .individual 'single': nose, tail."),
        (MA_CSV.replace("nose,nose,tail,tail\n", "nose,nose,paw,paw\n"), None,
         "individual m2 has body parts nose, paw but m1 has nose, tail"),
        (MA_CSV.replace("9,10", "9,-10"), None, "negative coordinate for nose of m1 in "
         "labeled-data/v/img1.png"),
        ("scorer,S,S\nbodyparts,nose,nose\ncoords,x,y\nlabeled-data/v/img0.png,1,2\n", ["m1"],
         "no individuals level"),
    ],
)  # fmt: skip
def test_bad_multi_animal_labels(
    tmp_path: Path, text: str, expected: list[str] | None, message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        read_collected_data(_csv(tmp_path, text), expected_individuals=expected)


def test_h5_with_unique_bodyparts_is_refused(herd_frames: LabeledFrames, tmp_path: Path) -> None:
    h5, _ = _write(dataclasses.replace(herd_frames, individuals=["ada", "bob", "single"]), tmp_path)
    with pytest.raises(FormatError, match="unique body parts"):
        read_collected_data(h5)


# --- projects ------------------------------------------------------------------------------

MA_CONFIG = """\
Task: cage
scorer: S
date: Jan1
multianimalproject: true
identity: false
project_path: /elsewhere/cage-S-2024-01-01
video_sets: {}
individuals:
- m1
- m2
uniquebodyparts: []
multianimalbodyparts:
- nose
- tail
bodyparts: MULTI!
skeleton:
- - nose
  - tail
TrainingFraction:
- 0.95
iteration: 0
"""


def _ma_project(root: Path, config: str = MA_CONFIG) -> Path:
    (root / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(config)
    _csv(root / "labeled-data" / "v", MA_CSV)
    for name in ("img0.png", "img1.png"):
        Image.new("L", (64, 48)).save(root / "labeled-data" / "v" / name)
    return root


def test_deeplabcut_multi_animal_project_reads(tmp_path: Path) -> None:
    project = read_dlc_project(_ma_project(tmp_path / "cage"))
    assert project.config.multianimal and project.config.individuals == ("m1", "m2")
    frames = project.frames
    assert frames.individuals == ["m1", "m2"] and frames.bodyparts == ["nose", "tail"]
    assert frames.keypoints.shape == (2, 2, 2, 2)
    assert frames.skeleton == [("nose", "tail")]
    assert frames.image_sizes == [(64, 48), (64, 48)]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (MA_CONFIG.replace("uniquebodyparts: []", "uniquebodyparts: [light]"),
         "unique body parts .light."),
        (MA_CONFIG.replace("individuals:\n- m1\n- m2\n", "individuals: []\n"),
         "must list its individuals"),
        (MA_CONFIG.replace("- m2\n", "").replace("- m1\n", "- m1\n- m3\n"),
         "unknown individual.s. m2"),
        (MA_CONFIG.replace("multianimalproject: true", "multianimalproject: false")
         .replace("bodyparts: MULTI!", "bodyparts: [nose, tail]"), "not a multi-animal project"),
    ],
)  # fmt: skip
def test_bad_multi_animal_projects(tmp_path: Path, config: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_dlc_project(_ma_project(tmp_path / "cage", config))


def _pngs(rel: str, dest: Path) -> None:
    Image.new("L", (320, 240)).save(dest)


def test_multi_animal_project_round_trip(herd_frames: LabeledFrames, tmp_path: Path) -> None:
    config = DLCConfig(
        task="cage", scorer="tester", bodyparts=tuple(herd_frames.bodyparts),
        skeleton=tuple(herd_frames.skeleton), multianimal=True,
        individuals=tuple(herd_frames.individuals or ()),
    )  # fmt: skip
    path = write_dlc_project(tmp_path / "out", config, herd_frames, images=_pngs)
    written = yaml.safe_load(path.read_text())
    assert written["multianimalproject"] is True and written["bodyparts"] == "MULTI!"
    assert written["multianimalbodyparts"] == ["nose", "ear", "tail"]
    assert written["individuals"] == ["ada", "bob", "cleo"] and written["uniquebodyparts"] == []
    back = read_dlc_project(tmp_path / "out").frames
    assert back.individuals == herd_frames.individuals
    assert back.image_paths == herd_frames.image_paths
    np.testing.assert_array_equal(back.keypoints, herd_frames.keypoints)


def test_writing_several_animals_needs_a_multi_animal_config(
    herd_frames: LabeledFrames, tmp_path: Path
) -> None:
    single = DLCConfig(task="cage", scorer="tester", bodyparts=tuple(herd_frames.bodyparts))
    with pytest.raises(FormatError, match="3 individuals but the config is not multi-animal"):
        write_dlc_project(tmp_path / "a", single, herd_frames)
    other = dataclasses.replace(single, multianimal=True, individuals=("ada", "bob", "dan"))
    with pytest.raises(FormatError, match="differ from the config's"):
        write_dlc_project(tmp_path / "b", other, herd_frames)

"""DeepLabCut config, CollectedData and project adapters, on real and synthetic files."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from learning.formats.dlc import (
    DLCConfig,
    read_collected_data,
    read_dlc_config,
    read_dlc_project,
    write_collected_data,
    write_dlc_project,
)
from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames

OPENFIELD_LABELS = "labeled-data/m4s1/CollectedData_Pranav"
REACHING_LABELS = "labeled-data/reachingvideo1/CollectedData_Mackenzie"


# --- real data ---------------------------------------------------------------------------


def test_openfield_config(openfield: Path) -> None:
    config = read_dlc_config(openfield / "config.yaml")
    assert (config.task, config.scorer, config.date) == ("openfield", "Pranav", "Oct30")
    assert config.bodyparts == ("snout", "leftear", "rightear", "tailbase")
    assert config.skeleton == ()
    assert config.training_fraction == (0.95,)
    assert config.default_net_type == "resnet_50"
    assert not config.multianimal
    assert config.extra["colormap"] == "jet"


def test_reaching_config_skeleton_is_name_pairs(reaching: Path) -> None:
    config = read_dlc_config(reaching / "config.yaml")
    assert config.skeleton == (("Hand", "Finger1"), ("Joystick1", "Joystick2"))


def test_openfield_project(openfield: Path) -> None:
    project = read_dlc_project(openfield)
    frames = project.frames
    assert frames.keypoints.shape == (116, 1, 4, 2)
    assert not np.isnan(frames.keypoints).any()
    assert frames.image_paths[0] == "labeled-data/m4s1/img0000.png"
    assert frames.scorer == "Pranav"
    assert Counter(frames.image_sizes) == {(640, 480): 116}
    assert all(f.is_file() for f in project.image_files)


def test_reaching_project_has_missing_points_and_two_sizes(reaching: Path) -> None:
    frames = read_dlc_project(reaching).frames
    assert frames.keypoints.shape == (55, 1, 5, 2)
    assert int(np.isnan(frames.keypoints).sum()) == 84
    tongue = frames.bodyparts.index("Tongue")
    assert int(np.isnan(frames.keypoints[:, 0, tongue, 0]).sum()) == 40
    assert Counter(frames.image_sizes) == {(832, 747): 40, (640, 470): 15}
    assert frames.skeleton == [("Hand", "Finger1"), ("Joystick1", "Joystick2")]


@pytest.mark.parametrize("labels", [OPENFIELD_LABELS, REACHING_LABELS])
def test_real_csv_and_h5_agree(shared_data: Path, labels: str) -> None:
    folder = "openfield" if "Pranav" in labels else "reaching"
    h5 = read_collected_data(shared_data / folder / f"{labels}.h5")
    csv = read_collected_data(shared_data / folder / f"{labels}.csv")
    assert h5.image_paths == csv.image_paths
    assert h5.bodyparts == csv.bodyparts
    np.testing.assert_array_equal(h5.keypoints, csv.keypoints)


def test_written_openfield_layout_matches_original(openfield: Path, tmp_path: Path) -> None:
    original_path = openfield / f"{OPENFIELD_LABELS}.h5"
    frames = read_collected_data(original_path)
    h5, _ = write_collected_data(
        tmp_path, "Pranav", frames.bodyparts, frames.image_paths, frames.keypoints
    )
    original = pd.read_hdf(original_path, "df_with_missing")
    written = pd.read_hdf(h5, "df_with_missing")
    assert written.columns.names == original.columns.names
    assert written.columns.equals(original.columns)
    assert type(written.index) is type(original.index)
    assert written.index.equals(original.index)
    assert written.index.dtype == original.index.dtype
    assert (written.dtypes == original.dtypes).all()
    with pd.HDFStore(h5, "r") as store:
        assert store.keys() == ["/df_with_missing"]
        assert store.get_storer("df_with_missing").format_type == "table"
    pd.testing.assert_frame_equal(written, original)


def test_written_csv_header_matches_original(openfield: Path, tmp_path: Path) -> None:
    frames = read_collected_data(openfield / f"{OPENFIELD_LABELS}.h5")
    _, csv = write_collected_data(
        tmp_path, "Pranav", frames.bodyparts, frames.image_paths, frames.keypoints
    )
    original = (openfield / f"{OPENFIELD_LABELS}.csv").read_text().splitlines()
    written = csv.read_text().splitlines()
    # DeepLabCut's rows, plus the "individuals" row of its multi-animal files (for movement).
    assert [written[0], *written[2:4]] == original[:3]
    assert written[1] == ",".join(["individuals"] + ["individual_0"] * 8)
    assert written[4].split(",")[0] == original[3].split(",")[0] == "labeled-data/m4s1/img0000.png"


def _deeplabcut_convertcsv2h5_read(path: Path) -> pd.DataFrame:
    """How DeepLabCut's ``conversioncode.convertcsv2h5`` reads a CollectedData CSV."""
    head = path.read_text().splitlines()[:5]
    header = list(range(4)) if "individuals" in head[1] else list(range(3))
    index_col = [0, 1, 2] if head[-1].split(",")[0] == "labeled-data" else 0
    return pd.read_csv(path, index_col=index_col, header=header)


@pytest.mark.parametrize("index_style", ["path", "multi"])
def test_written_csv_loads_in_movement_and_deeplabcut(
    small_frames: LabeledFrames, tmp_path: Path, index_style: str
) -> None:
    load_poses = pytest.importorskip("movement.io.load_poses")
    h5, csv = write_collected_data(
        tmp_path, "tester", small_frames.bodyparts, small_frames.image_paths,
        small_frames.keypoints, index_style=index_style,  # type: ignore[arg-type]
    )  # fmt: skip
    from_csv = load_poses.from_dlc_file(csv)
    from_h5 = load_poses.from_dlc_file(h5)
    # movement: (time, space, keypoints, individuals); ours: (frames, individuals, keypoints, xy)
    positions = from_csv.position.values.transpose(0, 3, 2, 1)
    np.testing.assert_array_equal(positions, small_frames.keypoints)
    assert list(from_csv.keypoints.values) == small_frames.bodyparts
    np.testing.assert_array_equal(from_csv.position.values, from_h5.position.values)
    assert list(from_csv.individuals.values) == list(from_h5.individuals.values)
    # DeepLabCut reads the CSV back to the values and image paths of the .h5.
    dlc = _deeplabcut_convertcsv2h5_read(csv).droplevel("individuals", axis=1)
    h5_frame = pd.read_hdf(h5)
    assert dlc.columns.equals(h5_frame.columns)
    assert ["/".join(i) if isinstance(i, tuple) else i for i in h5_frame.index] == list(dlc.index)
    np.testing.assert_array_equal(dlc.to_numpy(), h5_frame.to_numpy())


def test_real_deeplabcut_csv_still_reads(openfield: Path) -> None:
    # Files DeepLabCut wrote (no "individuals" row) read as before.
    frames = read_collected_data(openfield / f"{OPENFIELD_LABELS}.csv")
    assert frames.keypoints.shape == (116, 1, 4, 2)


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("index_style", ["path", "multi"])
@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_collected_data_round_trip(
    small_frames: LabeledFrames, tmp_path: Path, index_style: str, suffix: str
) -> None:
    h5, csv = write_collected_data(
        tmp_path,
        "tester",
        small_frames.bodyparts,
        small_frames.image_paths,
        small_frames.keypoints,
        index_style=index_style,  # type: ignore[arg-type]
    )
    back = read_collected_data(h5 if suffix == ".h5" else csv)
    assert back.image_paths == small_frames.image_paths
    assert back.bodyparts == small_frames.bodyparts
    assert back.scorer == "tester"
    np.testing.assert_array_equal(back.keypoints, small_frames.keypoints)


def test_multi_index_written_as_three_levels(small_frames: LabeledFrames, tmp_path: Path) -> None:
    h5, _ = write_collected_data(
        tmp_path, "t", small_frames.bodyparts, small_frames.image_paths,
        small_frames.keypoints, index_style="multi",
    )  # fmt: skip
    index = pd.read_hdf(h5).index
    assert index.nlevels == 3
    assert index[0] == ("labeled-data", "vidA", "img000.png")


def test_expected_bodyparts_reorder(small_frames: LabeledFrames, tmp_path: Path) -> None:
    h5, _ = write_collected_data(
        tmp_path, "t", small_frames.bodyparts, small_frames.image_paths, small_frames.keypoints
    )
    back = read_collected_data(h5, expected_bodyparts=["tail", "nose", "ear"])
    assert back.bodyparts == ["tail", "nose", "ear"]
    np.testing.assert_array_equal(back.keypoints, small_frames.keypoints[:, :, [2, 0, 1]])


def test_project_round_trip_copies_images(openfield: Path, tmp_path: Path) -> None:
    project = read_dlc_project(openfield)
    images = dict(zip(project.frames.image_paths, project.image_files, strict=True))
    config_path = write_dlc_project(tmp_path / "out", project.config, project.frames, images)
    back = read_dlc_project(config_path.parent)
    assert back.frames.image_paths == project.frames.image_paths
    np.testing.assert_array_equal(back.frames.keypoints, project.frames.keypoints)
    assert back.frames.image_sizes == project.frames.image_sizes
    assert back.config.bodyparts == project.config.bodyparts
    assert back.config.extra["SuperAnimalConversionTables"]


def test_written_config_has_training_fields(small_frames: LabeledFrames, tmp_path: Path) -> None:
    config = DLCConfig(task="demo", scorer="tester", bodyparts=("nose", "ear", "tail"),
                       skeleton=(("nose", "ear"),), date="Jan01")  # fmt: skip
    written: list[str] = []

    def draw(rel: str, dest: Path) -> None:
        written.append(rel)
        dest.write_bytes(b"png")

    config_path = write_dlc_project(tmp_path, config, small_frames, draw)
    assert written == small_frames.image_paths
    body = yaml.safe_load(config_path.read_text())
    for key in ("Task", "scorer", "date", "project_path", "video_sets", "bodyparts", "skeleton",
                "numframes2pick", "TrainingFraction", "iteration", "default_net_type",
                "snapshotindex", "pcutoff", "dotsize", "colormap", "alphavalue", "cropping",
                "x1", "x2", "y1", "y2", "multianimalproject"):  # fmt: skip
        assert key in body, key
    assert body["project_path"] == str(tmp_path.resolve())
    assert body["skeleton"] == [["nose", "ear"]]
    stems = {Path(v).stem: s for v, s in body["video_sets"].items()}
    assert stems == {"vidA": {"crop": "0, 640, 0, 480"}, "vidB": {"crop": "0, 320, 0, 240"}}
    for video in ("vidA", "vidB"):
        assert (tmp_path / "labeled-data" / video / "CollectedData_tester.h5").is_file()
        assert (tmp_path / "labeled-data" / video / "CollectedData_tester.csv").is_file()


def test_project_rejects_frames_with_other_bodyparts(
    small_frames: LabeledFrames, tmp_path: Path
) -> None:
    config = DLCConfig(task="demo", scorer="tester", bodyparts=("nose", "ear"))
    with pytest.raises(FormatError, match="body parts"):
        write_dlc_project(tmp_path, config, small_frames)


# --- malformed input ---------------------------------------------------------------------

GOOD_CSV = (
    "scorer,S,S,S,S\n"
    "bodyparts,nose,nose,tail,tail\n"
    "coords,x,y,x,y\n"
    "labeled-data/v/img0.png,1.0,2.0,3.0,4.0\n"
    "labeled-data/v/img1.png,5.0,6.0,,\n"
)


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "CollectedData_S.csv"
    path.write_text(text)
    return path


def test_good_csv_reads(tmp_path: Path) -> None:
    frames = read_collected_data(_csv(tmp_path, GOOD_CSV))
    assert frames.keypoints.shape == (2, 1, 2, 2)
    assert np.isnan(frames.keypoints[1, 0, 1]).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        (GOOD_CSV.replace("bodyparts,", "parts,"), "scorer / bodyparts / coords"),
        ("\n".join(GOOD_CSV.splitlines()[1:]), "scorer / bodyparts / coords"),
        (GOOD_CSV.replace("coords,x,y,x,y", "coords,x,y,x,z"), "coords must be x and y"),
        (GOOD_CSV.replace("coords,x,y,x,y", "coords,x,y,x,likelihood"), "read_pose_table"),
        (GOOD_CSV[:-6] + "\n", "line 5 has 3 fields, expected 5"),
        (GOOD_CSV.replace("5.0,6.0", "5.0,abc"), "'abc' is not a number"),
        (GOOD_CSV.replace("5.0,6.0", "5.0,-6.0"), "negative coordinate for nose"),
        (GOOD_CSV.replace("5.0,6.0", "5.0,inf"), "infinite"),
        (GOOD_CSV.replace("5.0,6.0", "5.0,"), "only one of x, y"),
        (GOOD_CSV.replace("img1", "img0"), "duplicate rows for image"),
        (GOOD_CSV.replace("S,S,S,S", "S,S,T,T"), "several scorers"),
        (GOOD_CSV.replace("bodyparts,", "individuals,a,a,b,b\nbodyparts,"),
         "individual b has body parts tail but a has nose"),
        (GOOD_CSV.replace("bodyparts,", "individuals,a,a,single,single\nbodyparts,"),
         "unique body parts \\(individual 'single': tail\\)"),
        (GOOD_CSV.replace("tail,tail", "tail,nose"), "duplicate column nose/y"),
    ],
)
def test_malformed_csv_raises(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        read_collected_data(_csv(tmp_path, text))
    assert "CollectedData_S.csv" in str(info.value)


def test_csv_with_one_individual_reads(tmp_path: Path) -> None:
    plain = read_collected_data(_csv(tmp_path, GOOD_CSV)).keypoints
    text = GOOD_CSV.replace("bodyparts,", "individuals,m,m,m,m\nbodyparts,")
    np.testing.assert_array_equal(read_collected_data(_csv(tmp_path, text)).keypoints, plain)


def test_unknown_and_missing_bodyparts_are_named(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="unknown tail; missing paw"):
        read_collected_data(_csv(tmp_path, GOOD_CSV), expected_bodyparts=["nose", "paw"])


def _h5(tmp_path: Path, df: pd.DataFrame, key: str = "df_with_missing") -> Path:
    path = tmp_path / "CollectedData_S.h5"
    df.to_hdf(path, key=key, format="table", mode="a")
    return path


def _df(columns: list[tuple[str, ...]], names: list[str]) -> pd.DataFrame:
    cols = pd.MultiIndex.from_tuples(columns, names=names)
    return pd.DataFrame(np.ones((1, len(columns))), index=["labeled-data/v/a.png"], columns=cols)


def test_h5_multi_animal_reads_one_slot_per_individual(tmp_path: Path) -> None:
    df = _df([("S", "mouse1", "nose", "x"), ("S", "mouse1", "nose", "y"),
              ("S", "mouse2", "nose", "x"), ("S", "mouse2", "nose", "y")],
             ["scorer", "individuals", "bodyparts", "coords"])  # fmt: skip
    df.iloc[0, 2:] = [7.0, 8.0]
    frames = read_collected_data(_h5(tmp_path, df))
    assert frames.individuals == ["mouse1", "mouse2"]
    np.testing.assert_array_equal(frames.keypoints[0, :, 0], [[1.0, 1.0], [7.0, 8.0]])


def test_h5_with_one_individual_reads(tmp_path: Path) -> None:
    df = _df([("S", "mouse1", "nose", "x"), ("S", "mouse1", "nose", "y")],
             ["scorer", "individuals", "bodyparts", "coords"])  # fmt: skip
    frames = read_collected_data(_h5(tmp_path, df))
    assert frames.bodyparts == ["nose"] and frames.keypoints.shape == (1, 1, 1, 2)


def test_h5_wrong_levels_are_rejected(tmp_path: Path) -> None:
    df = _df([("S", "nose", "x"), ("S", "nose", "y")], ["scorer", "parts", "coords"])
    with pytest.raises(FormatError, match="levels"):
        read_collected_data(_h5(tmp_path, df))


def test_h5_with_two_other_keys_is_rejected(tmp_path: Path) -> None:
    df = _df([("S", "nose", "x"), ("S", "nose", "y")], ["scorer", "bodyparts", "coords"])
    _h5(tmp_path, df, key="a")
    path = _h5(tmp_path, df, key="b")
    with pytest.raises(FormatError, match="single key"):
        read_collected_data(path)


def test_h5_only_key_is_used(tmp_path: Path) -> None:
    df = _df([("S", "nose", "x"), ("S", "nose", "y")], ["scorer", "bodyparts", "coords"])
    assert read_collected_data(_h5(tmp_path, df, key="other")).bodyparts == ["nose"]


def test_h5_non_numeric_is_rejected(tmp_path: Path) -> None:
    df = _df([("S", "nose", "x"), ("S", "nose", "y")], ["scorer", "bodyparts", "coords"])
    df[("S", "nose", "y")] = df[("S", "nose", "y")].astype(str)
    with pytest.raises(FormatError, match="non-numeric"):
        read_collected_data(_h5(tmp_path, df))


@pytest.mark.parametrize(("content", "message"), [(b"", "empty"), (b"not hdf5", "not a readable")])
def test_broken_h5_is_rejected(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "CollectedData_S.h5"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        read_collected_data(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not a mapping"),
        ("Task: t\nscorer: s\n", "lacks required key"),
        ("Task: t\nscorer: s\nbodyparts: [a, a]\n", "duplicate body parts"),
        ("Task: t\nscorer: s\nbodyparts: []\n", "no body parts"),
        ("Task: t\nscorer: s\nbodyparts: [a, b]\nskeleton: [[a, c]]\n", "unknown body part"),
        ("Task: t\nscorer: s\nbodyparts: [a]\nTrainingFraction: [1.5]\n", "TrainingFraction"),
        ("Task: [t\n", "YAML"),
    ],
)
def test_malformed_config_raises(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(FormatError, match=message):
        read_dlc_config(path)


def test_project_with_missing_image_raises(openfield: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "labeled-data" / "m4s1").mkdir(parents=True)
    shutil.copy(openfield / "config.yaml", root / "config.yaml")
    shutil.copy(openfield / f"{OPENFIELD_LABELS}.h5", root / f"{OPENFIELD_LABELS}.h5")
    with pytest.raises(FormatError, match="116 labeled image.s. missing"):
        read_dlc_project(root)


def test_windows_paths_are_normalised(tmp_path: Path) -> None:
    text = GOOD_CSV.replace("labeled-data/v/", "labeled-data\\v\\")
    frames = read_collected_data(_csv(tmp_path, text))
    assert frames.image_paths == ["labeled-data/v/img0.png", "labeled-data/v/img1.png"]

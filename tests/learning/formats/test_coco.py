"""COCO keypoints export and strictly validated import."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from learning.formats.coco import from_coco, read_coco, to_coco, write_coco
from learning.formats.dlc import read_dlc_project
from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames


@pytest.fixture
def occluded_frames(small_frames: LabeledFrames) -> LabeledFrames:
    """small_frames with one point marked occluded (v = 1)."""
    vis = small_frames.visibility_or_default().copy()
    vis[0, 0, 1] = 1
    return dataclasses.replace(small_frames, visibility=vis)


def test_round_trip_keeps_coordinates_and_visibility(
    occluded_frames: LabeledFrames, tmp_path: Path
) -> None:
    back = read_coco(write_coco(tmp_path / "coco.json", occluded_frames))
    assert back.image_paths == occluded_frames.image_paths
    assert back.bodyparts == occluded_frames.bodyparts
    assert back.skeleton == occluded_frames.skeleton
    assert back.image_sizes == occluded_frames.image_sizes
    np.testing.assert_array_equal(back.keypoints, occluded_frames.keypoints)
    assert back.visibility is not None and back.visibility.dtype == np.int8
    np.testing.assert_array_equal(back.visibility, occluded_frames.visibility)


def test_export_structure(occluded_frames: LabeledFrames) -> None:
    coco = to_coco(occluded_frames)
    assert [c["keypoints"] for c in coco["categories"]] == [["nose", "ear", "tail"]]
    assert coco["categories"][0]["skeleton"] == [[1, 2]]
    first = coco["annotations"][0]
    assert len(first["keypoints"]) == 9
    assert first["keypoints"][5] == 1  # ear occluded
    assert first["num_keypoints"] == 3
    kp = occluded_frames.keypoints[0, 0]
    x0, y0 = kp.min(axis=0)
    assert first["bbox"] == pytest.approx([x0, y0, *(kp.max(axis=0) - [x0, y0])])
    second = coco["annotations"][1]
    assert second["num_keypoints"] == 2
    assert second["keypoints"][6:9] == [0.0, 0.0, 0]


def test_real_reaching_round_trip(reaching: Path) -> None:
    frames = read_dlc_project(reaching).frames
    back = from_coco(json.loads(json.dumps(to_coco(frames))))
    np.testing.assert_array_equal(back.keypoints, frames.keypoints)
    assert back.skeleton == frames.skeleton


def test_export_needs_image_sizes(small_frames: LabeledFrames) -> None:
    small_frames.image_sizes = None
    with pytest.raises(FormatError, match="image sizes"):
        to_coco(small_frames)


def test_unannotated_image_and_several_individuals(small_frames: LabeledFrames) -> None:
    coco = to_coco(small_frames)
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] != 2]
    extra = copy.deepcopy(coco["annotations"][0])
    extra["id"] = 99
    coco["annotations"].append(extra)
    frames = from_coco(coco)
    assert frames.keypoints.shape == (4, 2, 3, 2)
    assert np.isnan(frames.keypoints[1]).all()
    np.testing.assert_array_equal(frames.keypoints[0, 1], frames.keypoints[0, 0])


def _broken(mutate: Any) -> Any:
    def make(coco: dict[str, Any]) -> dict[str, Any]:
        mutate(coco)
        return coco

    return make


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def mutate(coco: Any) -> None:
        target = coco
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return _broken(mutate)


def _drop(key: str) -> Any:
    return _broken(lambda coco: coco.pop(key))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_drop("annotations"), "lacks key.s. annotations"),
        (_drop("categories"), "lacks key.s. categories"),
        (_set(("annotations", 0, "keypoints"), [1.0, 2.0, 2]), "list of 9 numbers, got 3"),
        (_set(("annotations", 0, "category_id"), 7), "unknown category 7"),
        (_set(("annotations", 0, "image_id"), 42), "unknown image 42"),
        (_set(("annotations", 0, "keypoints", 0), float("nan")), "NaN"),
        (_set(("annotations", 0, "keypoints", 0), -3.0), "negative"),
        (_set(("annotations", 0, "keypoints", 2), 5), "0, 1 or 2"),
        (_set(("annotations", 0, "keypoints", 0), "12"), "must all be numbers"),
        (_set(("annotations", 1, "id"), 1), "duplicate annotation id"),
        (_set(("images", 1, "id"), 1), "duplicate image id"),
        (_set(("images", 1, "file_name"), "labeled-data/vidA/img000.png"), "duplicate image"),
        (_set(("images", 0, "width"), 0), "positive integer"),
        (_set(("categories", 0, "skeleton"), [[1, 4]]), "refers past the 3 keypoints"),
        (_set(("categories", 0, "keypoints"), ["a", "a", "b"]), "duplicate body parts"),
        (_set(("categories",), []), "non-empty list"),
        (_set(("annotations", 0), "oops"), "must be an object"),
    ],
)
def test_malformed_coco_raises(small_frames: LabeledFrames, make: Any, message: str) -> None:
    coco = make(to_coco(small_frames))
    with pytest.raises(FormatError, match=message):
        from_coco(coco)


@pytest.mark.parametrize(("text", "message"), [("", "empty"), ("{", "not valid JSON")])
def test_unreadable_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "coco.json"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        read_coco(path)
    assert "coco.json" in str(info.value)


def test_nan_literal_in_file_is_rejected(small_frames: LabeledFrames, tmp_path: Path) -> None:
    coco = to_coco(small_frames)
    coco["annotations"][0]["keypoints"][1] = float("nan")
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))  # writes the non-standard NaN literal
    with pytest.raises(FormatError, match="NaN"):
        read_coco(path)


# --- several animals per image -------------------------------------------------------------


def test_round_trip_keeps_each_animal_in_its_slot(herd_frames: LabeledFrames) -> None:
    # "bob" is absent from the first image: without track ids, "cleo" would take his slot.
    back = from_coco(json.loads(json.dumps(to_coco(herd_frames))))
    assert back.individuals == ["ada", "bob", "cleo"]
    np.testing.assert_array_equal(back.keypoints, herd_frames.keypoints)
    np.testing.assert_array_equal(back.visibility, herd_frames.visibility_or_default())


def test_export_names_each_annotations_animal(herd_frames: LabeledFrames) -> None:
    anns = to_coco(herd_frames)["annotations"]
    assert len(anns) == 5 * 3 - 2
    assert [(a["image_id"], a["track"]) for a in anns[:3]] == [(1, "ada"), (1, "cleo"),
                                                               (2, "ada")]  # fmt: skip
    assert [a["attributes"]["object_id"] for a in anns[:3]] == [1, 3, 1]
    assert anns[0]["num_keypoints"] == 3


def test_single_anonymous_animal_has_no_track(small_frames: LabeledFrames) -> None:
    anns = to_coco(small_frames)["annotations"]
    assert not any("track" in a or "attributes" in a for a in anns)
    assert from_coco(to_coco(small_frames)).individuals is None


def test_sleap_io_reads_the_tracks(herd_frames: LabeledFrames, tmp_path: Path) -> None:
    sio = pytest.importorskip("sleap_io")
    Image = pytest.importorskip("PIL.Image")
    for rel in herd_frames.image_paths:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (320, 240)).save(tmp_path / rel)
    labels = sio.load_coco(str(write_coco(tmp_path / "coco.json", herd_frames)))
    assert len(labels.labeled_frames) == 5
    for f, lf in enumerate(sorted(labels.labeled_frames, key=lambda lf: lf.video.filename)):
        for inst in lf.instances:
            slot = int(inst.track.name.removeprefix("track_")) - 1
            np.testing.assert_allclose(inst.numpy(), herd_frames.keypoints[f, slot])


def test_track_ids_without_names_and_names_without_ids(small_frames: LabeledFrames) -> None:
    coco = to_coco(small_frames)
    for ann, track_id in zip(coco["annotations"], [7, 3, 7, 3], strict=True):
        ann["track_id"] = track_id
    frames = from_coco(coco)
    assert frames.individuals == ["track_3", "track_7"]  # numeric ids in order
    np.testing.assert_array_equal(frames.keypoints[0, 1], small_frames.keypoints[0, 0])
    assert np.isnan(frames.keypoints[0, 0]).all()
    for ann, name in zip(coco["annotations"], ["rex", "ace", "rex", "ace"], strict=True):
        del ann["track_id"]
        ann["track"] = name
    assert from_coco(coco).individuals == ["rex", "ace"]  # names in order of appearance


def _tracked(coco: dict[str, Any], *names: Any) -> dict[str, Any]:
    for ann, name in zip(coco["annotations"], names, strict=False):
        if name is not None:
            ann["track"] = name
    return coco


@pytest.mark.parametrize(
    ("names", "message"),
    [(("a", None, "a", "a"), "name no track while others do"), (("a", 3, "a", "a"), "not a non"),
     (("a", "a", "a", "a"), "has track 'a' twice"), (("a", "", "a", "a"), "not a non-empty")],
)  # fmt: skip
def test_bad_tracks(small_frames: LabeledFrames, names: tuple[Any, ...], message: str) -> None:
    coco = to_coco(small_frames)
    coco["annotations"][1]["image_id"] = 1  # two annotations on image 1
    with pytest.raises(FormatError, match=message):
        from_coco(_tracked(coco, *names))


def test_one_track_id_with_two_names(herd_frames: LabeledFrames) -> None:
    coco = to_coco(herd_frames)
    coco["annotations"][0]["track"] = "zed"
    with pytest.raises(FormatError, match="track id 1 is named both 'zed' and 'ada'"):
        from_coco(coco)

"""The shared LabeledFrames vocabulary validates its invariants."""

from __future__ import annotations

import numpy as np
import pytest

from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames, visibility_from_keypoints


def _frames(**overrides: object) -> LabeledFrames:
    fields: dict[str, object] = {
        "image_paths": ["a.png", "b.png"],
        "bodyparts": ["nose", "tail"],
        "keypoints": np.ones((2, 1, 2, 2)),
    }
    fields.update(overrides)
    return LabeledFrames(**fields)  # type: ignore[arg-type]


def test_valid_frames_are_float64_with_forward_slashes() -> None:
    frames = _frames(image_paths=["labeled-data\\v\\a.png", "b.png"])
    assert frames.keypoints.dtype == np.float64
    assert frames.image_paths[0] == "labeled-data/v/a.png"
    assert frames.visibility_or_default().dtype == np.int8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"keypoints": np.ones((2, 2, 2))}, "shaped"),
        ({"keypoints": np.ones((3, 1, 2, 2))}, "shaped"),
        ({"keypoints": np.full((2, 1, 2, 2), -1.0)}, "negative"),
        ({"keypoints": np.full((2, 1, 2, 2), np.inf)}, "infinite"),
        ({"keypoints": np.array([[[[1.0, np.nan], [1, 1]]]] * 2)}, "one coordinate NaN"),
        ({"bodyparts": ["nose", "nose"]}, "duplicate body parts"),
        ({"bodyparts": ["nose", ""]}, "non-empty strings"),
        ({"image_paths": ["a.png", "a.png"]}, "duplicate image paths"),
        ({"skeleton": [("nose", "paw")]}, "unknown body part"),
        ({"visibility": np.full((2, 1, 2), 3, dtype=np.int8)}, "0, 1 or 2"),
        ({"visibility": np.zeros((2, 1, 2), dtype=np.int8)}, "visibility 0 must match"),
        ({"image_sizes": [(10, 10)]}, "1 image sizes for 2 images"),
    ],
)
def test_invalid_frames_raise_format_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        _frames(**overrides)


def test_visibility_from_keypoints_marks_nan_as_absent() -> None:
    kp = np.ones((1, 1, 2, 2))
    kp[0, 0, 1] = np.nan
    assert visibility_from_keypoints(kp).tolist() == [[[2, 0]]]


def test_individual_names_default_and_named() -> None:
    two = np.ones((2, 2, 2, 2))
    assert _frames(keypoints=two).individual_names() == ["individual_0", "individual_1"]
    assert _frames(keypoints=two, individuals=["a", "b"]).individual_names() == ["a", "b"]


@pytest.mark.parametrize(
    ("individuals", "message"),
    [(["a"], "1 individual names for 2 individuals"), (["a", "a"], "duplicate individuals"),
     (["a", ""], "non-empty strings")],
)  # fmt: skip
def test_bad_individual_names(individuals: list[str], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        _frames(keypoints=np.ones((2, 2, 2, 2)), individuals=individuals)

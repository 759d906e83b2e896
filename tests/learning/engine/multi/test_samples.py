import numpy as np
import pytest

from learning.engine.multi.samples import (
    MultiSample,
    anchor,
    max_animals,
    split_frames,
    typical_extent,
)

NAN = np.nan


def test_anchor_is_the_mean_of_present_points() -> None:
    points = np.array([[0.0, 0.0], [4.0, 2.0], [NAN, NAN], [2.0, 10.0]])
    np.testing.assert_allclose(anchor(points), [2.0, 4.0])
    assert np.isnan(anchor(np.full((3, 2), NAN))).all()


def test_from_instances_drops_confidence_and_handles_no_animals() -> None:
    three = np.array([[[1, 2, 0.9], [NAN, NAN, 0.1]], [[5, 6, 0.8], [7, 8, 0.7]]])
    sample = MultiSample.from_instances("a.png", three, 2)
    assert sample.keypoints.shape == (2, 2, 2) and sample.visibility.tolist() == [[2, 0], [2, 2]]
    empty = MultiSample.from_instances("b.png", [], 2)
    assert empty.keypoints.shape == (0, 2, 2) and empty.anchors().shape == (0, 2)


def test_anchors_skip_animals_without_parts() -> None:
    kp = np.array([[[0, 0], [2, 2]], [[NAN, NAN], [NAN, NAN]], [[10, 10], [NAN, NAN]]])
    sample = MultiSample.from_instances("a.png", kp, 2)
    np.testing.assert_allclose(sample.anchors(), [[1, 1], [10, 10]])
    assert max_animals([sample]) == 2


def test_typical_extent_needs_an_animal_with_two_parts() -> None:
    one_part = MultiSample.from_instances("a.png", np.array([[[1.0, 1.0], [NAN, NAN]]]), 2)
    with pytest.raises(ValueError, match="two parts"):
        typical_extent([one_part])
    long = MultiSample.from_instances("b.png", np.array([[[0.0, 0.0], [30.0, 4.0]]]), 2)
    assert typical_extent([one_part, long]) == 30.0


def test_split_frames_is_disjoint_and_seeded() -> None:
    frames = [MultiSample.from_instances(f"{i}.png", [], 2) for i in range(20)]
    train, val = split_frames(frames, 0.1, seed=3)
    assert len(val) == 2 and len(train) == 18
    assert not {s.image_path for s in train} & {s.image_path for s in val}
    assert [s.image_path for s in split_frames(frames, 0.1, seed=3)[1]] == [
        s.image_path for s in val]
    assert split_frames(frames[:1], 0.5, seed=0) == (frames[:1], [])

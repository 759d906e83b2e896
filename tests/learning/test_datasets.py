import numpy as np
import pytest

from annotation.labels import import_label
from learning.models import SplitAssignment
from learning.training.datasets import (
    MIN_FRAMES_FOR_TEST,
    assign_splits,
    build_dataset,
    flip_pairs,
    labeled_frame_ids,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_test_frame_never_moves_as_labels_grow(project, labeled_frames):
    frames = labeled_frames(project, 40, stride=1, label=False)
    seen: dict[int, str] = {}
    for n in range(1, len(frames) + 1):
        splits = assign_splits(project, [f.pk for f in frames[:n]])
        for frame_id, split in seen.items():
            assert splits[frame_id] == split
        seen = dict(splits)
        if n >= MIN_FRAMES_FOR_TEST:
            assert "test" in splits.values()
    n_test = list(seen.values()).count("test")
    assert 1 <= n_test <= 12
    assert SplitAssignment.objects.filter(project=project).count() == 40


def test_splits_are_assigned_once_even_when_asked_again(project, labeled_frames):
    frames = labeled_frames(project, 6, label=False)
    first = assign_splits(project, [f.pk for f in frames])
    SplitAssignment.objects.filter(frame=frames[0]).update(split="test")
    again = assign_splits(project, [f.pk for f in frames])
    assert again[frames[0].pk] == "test"
    assert {k: v for k, v in again.items() if k != frames[0].pk} == {
        k: v for k, v in first.items() if k != frames[0].pk}


def _points(project, states, xy=(10.0, 20.0)):
    parts = list(project.bodyparts.order_by("order", "id"))
    return [{"bodypart": bp.pk, "x": None if s == "absent" else xy[0],
             "y": None if s == "absent" else xy[1], "state": s}
            for bp, s in zip(parts, states, strict=True)]


def test_dataset_uses_consensus_and_visibility(project, labeled_frames):
    frame = labeled_frames(project, 1, label=False)[0]
    import_label(project, frame, _points(project, ["visible", "occluded", "absent", "visible"]),
                 user=UserFactory())
    import_label(project, frame, _points(project, ["visible", "occluded", "absent", "visible"],
                                         xy=(14.0, 24.0)), user=UserFactory())
    data = build_dataset(project)
    sample = (data.train + data.test)[0]
    assert sample.visibility.tolist() == [2, 1, 0, 2]
    np.testing.assert_allclose(sample.keypoints[0], [12.0, 22.0])
    assert np.isnan(sample.keypoints[2]).all()
    assert sample.present.tolist() == [True, True, False, True]  # occluded trains, absent not
    assert sample.image_path == frame.image.path
    assert data.snapshot["frame_ids"] == [frame.pk] and len(data.snapshot["labels"]) == 2


def test_dataset_follows_the_fixed_split(project, labeled_frames):
    frames = labeled_frames(project, 12)
    data = build_dataset(project)
    splits = dict(SplitAssignment.objects.values_list("frame_id", "split"))
    assert sorted(data.test_frame_ids) == sorted(f for f, s in splits.items() if s == "test")
    assert len(data.train) + len(data.test) == len(frames) == len(labeled_frame_ids(project))
    assert data.test and data.keypoint_names == ["snout", "leftear", "rightear", "tailbase"]


def test_flip_pairs_come_from_mirrors(project):
    assert flip_pairs(project) == ((1, 2),)
    assert build_dataset(project).flip_pairs == ((1, 2),)


def test_model_config_carries_the_animal_prior_measured_on_the_train_labels(project,
                                                                             labeled_frames):
    from learning.engine.data import animal_radius
    from learning.training.runs import effective_input_scale, model_config_for

    labeled_frames(project, 12, stride=1)
    data = build_dataset(project)
    cfg = model_config_for(project, 4, {"pretrained": None}, data.train)
    expected = animal_radius(data.train, effective_input_scale(project))
    assert expected > 0 and cfg.animal_radius_px == pytest.approx(expected, abs=0.01)
    assert model_config_for(project, 4, {"pretrained": None}).animal_radius_px is None
    chosen = model_config_for(project, 4, {"pretrained": None, "animal_radius_px": 50.0},
                              data.train)
    assert chosen.animal_radius_px == 50.0

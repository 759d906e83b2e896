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
    split_hash,
    split_key,
)
from tests.factories import ProjectFactory, UserFactory
from videos.models import Frame, FrameOrigin, Video

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


def test_the_same_frames_get_the_same_split_in_any_project_and_import_order(
        project, labeled_frames):
    # project A first, then B with the same images: B's project and frame ids all differ
    # (the id-keyed hash of earlier versions gave B another split)
    first = labeled_frames(project, 60, label=False)
    splits_a = assign_splits(project, [f.pk for f in first])
    other = ProjectFactory()
    second = labeled_frames(other, 60, label=False)
    assign_splits(other, [f.pk for f in reversed(second)])
    splits_b = dict(SplitAssignment.objects.filter(project=other)
                    .values_list("frame__external_path", "split"))
    by_path_a = {f.external_path: splits_a[f.pk] for f in first}
    assert by_path_a == splits_b
    expected = {f.external_path for f in first if split_hash(split_key(f)) < 0.1}
    assert expected and {p for p, s in by_path_a.items() if s == "test"} == expected


def test_split_key_names_video_frames_by_content_and_others_by_id(project):
    video = Video.objects.create(project=project, name="a.mp4", sha256="ab" * 32, size_bytes=1,
                                 fps=30.0, frame_count=10, width=8, height=8)
    on_video = Frame.objects.create(project=project, video=video, frame_index=7, image="x.png",
                                    width=8, height=8, origin=FrameOrigin.EXTRACTED)
    imported = Frame(project=project, image="y.png", width=8, height=8,
                     origin=FrameOrigin.IMPORTED, external_path="labeled-data/s/img1.png")
    bare = Frame.objects.create(project=project, image="z.png", width=8, height=8,
                                origin=FrameOrigin.IMPORTED)
    assert split_key(on_video) == f"video:{'ab' * 32}:7"
    assert split_key(imported) == "image:labeled-data/s/img1.png"
    assert split_key(bare) == f"id:{project.pk}:{bare.pk}"
    assert 0 <= split_hash(split_key(on_video)) < 1
    assert split_hash("image:a") != split_hash("image:b")


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

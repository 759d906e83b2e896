"""Distillation in the engine: pseudo-labels, their weights, the student's config and a run."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.data import PoseDataset, PoseSample
from learning.engine.distill import (
    DistillConfig,
    distill,
    human_repeats,
    pseudo_label,
    pseudo_samples,
    student_config,
    training_set,
)
from learning.engine.export import TorchRunner
from learning.engine.network import PoseNet
from learning.engine.predict import predict_images
from videos.synthetic import write_images

TEACHER = ModelConfig(num_keypoints=4, backbone="resnet18", head_channels=16, pretrained=None,
                      input_scale=0.5, animal_radius_px=40.0)


def _poses(likelihoods: list[float]) -> np.ndarray:
    pose = np.zeros((1, 4, 3), dtype=np.float32)
    pose[0, :, 0] = [10, 20, 30, 40]
    pose[0, :, 1] = [5, 6, 7, 8]
    pose[0, :, 2] = likelihoods
    return pose


def test_pseudo_labels_leave_out_unsure_points_and_weigh_the_rest_by_confidence():
    [sample] = pseudo_samples(["a.jpg"], _poses([0.9, 0.2, 0.6, 0.5]),
                              DistillConfig(min_confidence=0.5))
    assert sample.present.tolist() == [True, False, True, True]
    assert np.isnan(sample.keypoints[1]).all()
    assert sample.keypoints[0].tolist() == [10, 5]
    assert sample.weights.tolist() == pytest.approx([0.9, 0.0, 0.6, 0.5])


def test_hard_pseudo_labels_weigh_every_kept_point_fully():
    [sample] = pseudo_samples(["a.jpg"], _poses([0.9, 0.2, 0.6, 0.5]),
                              DistillConfig(min_confidence=0.55, weighting="hard"))
    assert sample.weights.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_the_dataset_passes_a_samples_weights_on_to_the_loss(tmp_path):
    images = write_images(tmp_path, 1, seed=0)
    kp = images.keypoints[0][0].astype(np.float32)
    sample = PoseSample(str(images.paths[0]), kp, np.full(4, 2, np.int8),
                        np.array([0.25, 1.0, 0.5, 0.75], np.float32))
    item = PoseDataset([sample], 1.0, (128, 160))[0]
    assert item["weights"].tolist() == pytest.approx([0.25, 1.0, 0.5, 0.75])


def test_human_labels_are_repeated_and_empty_pseudo_labels_dropped():
    human = [PoseSample.from_keypoints("h.png", np.ones((4, 2)))]
    empty = pseudo_samples(["p.jpg"], _poses([0.1] * 4), DistillConfig())
    full = pseudo_samples(["q.jpg"], _poses([0.9] * 4), DistillConfig())
    combined = training_set(human, [*empty, *full], 3)
    assert [s.image_path for s in combined] == ["h.png"] * 3 + ["q.jpg"]
    # only the pseudo-labels that kept a point count: 60 % of 1 human + 2 kept -> 3 repeats
    assert human_repeats(DistillConfig(), human, [*empty, *full] * 2) == 3
    assert human_repeats(DistillConfig(human_repeat=5), human, [*empty, *full]) == 5


def test_human_share_sets_the_repeats_and_human_repeat_overrides_it():
    cfg = DistillConfig()
    assert cfg.human_share == 0.6 and cfg.human_repeat is None
    assert cfg.repeats(105, 800) == 11  # openfield: 1.5 * 800 / 105 = 11.4
    assert cfg.repeats(1000, 800) == 1  # many labels: never fewer than once
    assert cfg.repeats(1, 100_000) == 100  # capped
    assert cfg.repeats(0, 800) == cfg.repeats(105, 0) == 1
    assert DistillConfig(human_share=0.5).repeats(100, 400) == 4
    assert DistillConfig(human_repeat=7).repeats(105, 800) == 7


def test_the_student_keeps_the_teachers_outputs_and_rescales_the_animal_prior():
    cfg = student_config(TEACHER, DistillConfig(backbone="mobilenet_v3_small", head_channels=32,
                                                input_scale=0.25))
    assert (cfg.backbone, cfg.head_channels, cfg.input_scale) == ("mobilenet_v3_small", 32, 0.25)
    assert cfg.num_keypoints == 4 and cfg.heatmap_stride == TEACHER.heatmap_stride
    assert cfg.animal_radius_px == 20.0
    assert student_config(TEACHER, DistillConfig()).input_scale == TEACHER.input_scale


@pytest.mark.parametrize("bad", [{"backbone": "vgg"}, {"weighting": "soft"}, {"frames": 0},
                                 {"min_confidence": 1.5}, {"colour": 1}, {"frames": "many"},
                                 {"human_share": 1.0}, {"human_repeat": 0}])
def test_bad_distill_options_are_errors(bad):
    with pytest.raises(ValueError):
        DistillConfig.from_dict(bad)


def test_pseudo_label_gives_what_predict_images_gives(tmp_path):
    torch.manual_seed(0)
    model = PoseNet(TEACHER).eval()
    images = write_images(tmp_path, 3, seed=1)
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in images.paths]
    poses = pseudo_label(TorchRunner(model), TEACHER, frames, batch_size=2)
    expected = predict_images(model, TEACHER, frames, batch_size=2)
    assert poses.shape == (3, 4, 3)
    np.testing.assert_allclose(poses, expected, atol=1e-3)


@pytest.mark.slow
def test_a_student_learns_from_pseudo_labels_and_human_labels(tmp_path):
    images = write_images(tmp_path, 24, seed=2, stride=3)
    samples = [PoseSample.from_keypoints(str(p), k[0])
               for p, k in zip(images.paths, images.keypoints, strict=True)]
    human, unlabeled = samples[:6], samples[6:]
    teacher_poses = np.concatenate([np.asarray(s.keypoints)[None] for s in unlabeled])
    teacher_poses = np.concatenate([teacher_poses, np.full((18, 4, 1), 0.9)], axis=-1)
    cfg = DistillConfig(backbone="mobilenet_v3_small", head_channels=16, human_repeat=2)
    pseudo = pseudo_samples([s.image_path for s in unlabeled], teacher_poses, cfg)
    student = student_config(replace(TEACHER, animal_radius_px=None), cfg)
    train_cfg = TrainConfig(max_epochs=2, max_minutes=1.0, batch_size=4, val_fraction=0.2,
                            device="cpu", augment=AugmentConfig(enabled=False))
    result = distill(human, pseudo, student, train_cfg, cfg)
    assert result.model.cfg.backbone == "mobilenet_v3_small"
    assert result.epochs == 2
    # 5 human samples x 2 + 18 pseudo-labeled ones per epoch, batch 4 (last batch dropped).
    assert result.history[-1]["step"] == 2 * (28 // 4)
    assert result.best_val_rmse_px is not None  # validated on the held-out human sample

"""Top-down: config, a tiny end-to-end training on synthetic frames, the predictor."""

import dataclasses

import numpy as np
import pytest
import torch

from learning.engine.data import load_image
from learning.engine.multi.checkpoint import load_predictor
from learning.engine.multi.config import TopDownConfig
from learning.engine.multi.match import match_instances, matched_errors
from learning.engine.multi.topdown import TopDownPredictor, train_topdown
from learning.engine.train import TrainingCancelled

from .conftest import BODY, K

NAMES = ["head", "thorax", "abdomen", "wing"]
# Tiny: no ImageNet weights, a narrow head, 8 epochs per network (bounded by epochs, not by
# time, so a busy machine makes the test slower, not weaker).
QUICK = TopDownConfig(pretrained=None, head_channels=32, device="cpu", num_threads=2,
                      max_epochs=8)


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    cfg = dataclasses.replace(QUICK, flip_pairs=((0, 1),), crop_size=96)
    assert TopDownConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown keys"):
        TopDownConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="multiple of 32"):
        TopDownConfig(crop_size=100)


def test_auto_fields_come_from_the_animals(make_frames) -> None:
    frames = make_frames(4, animals=3)
    cfg = TopDownConfig(crop_margin_px=16).resolve(frames)
    extent = np.ptp(BODY, axis=0).max()  # every synthetic animal has the same extent
    assert cfg.max_instances == 3
    assert cfg.crop_size == 64 and cfg.crop_size >= extent + 32  # a multiple of 32 that fits
    assert cfg.centroid_scale == 1.0  # a 26 px animal is already small (capped at 1)
    assert cfg.nms_radius_px == pytest.approx(extent / 4, abs=0.5)
    kept = TopDownConfig(crop_size=128, max_instances=5).resolve(frames)
    assert (kept.crop_size, kept.max_instances) == (128, 5)


def test_cancellation_stops_training(make_frames) -> None:
    with pytest.raises(TrainingCancelled):
        train_topdown(make_frames(3), None, QUICK, minutes=1.0, keypoint_names=NAMES,
                      should_stop=lambda: True)


@pytest.mark.slow
def test_tiny_training_finds_both_animals_and_their_parts(make_frames, tmp_path) -> None:
    torch.manual_seed(0)
    frames, test = make_frames(40, seed=1), make_frames(10, seed=2)
    reports = []
    path = str(tmp_path / "td.pt")
    result = train_topdown(frames, None, QUICK, minutes=10.0, keypoint_names=NAMES,
                           progress=reports.append, checkpoint_path=path,
                           workdir=str(tmp_path / "work"))
    assert result.checkpoint_path == path and result.val is not None
    assert [r.stage for r in reports][0] == "centroid" and reports[-1].stage == "instance"
    assert all(0 <= r.fraction <= 1 for r in reports)
    payload = torch.load(path, weights_only=True)
    assert payload["kind"] == "topdown" and payload["keypoint_names"] == NAMES
    assert payload["centroid"]["model_config"]["num_keypoints"] == 1
    assert payload["instance"]["model_config"]["num_keypoints"] == K

    predictor = load_predictor(path)
    assert isinstance(predictor, TopDownPredictor)
    assert predictor.config.max_instances == 2
    images = [load_image(s.image_path) for s in test]
    poses = predictor.predict(images)
    assert [p.shape for p in poses] == [(2, K, 3)] * len(test)
    assert [len(s) for s in predictor.instance_scores] == [2] * len(test)
    figures = matched_errors(poses, [s.keypoints for s in test])
    # Baseline: every part put on its animal's anchor is 9.6 px off (median over parts), and
    # the closest two parts of one animal are 8.9 px apart. A median below 5 px means the
    # network found the parts themselves, of the right animal (animals touch in every other
    # frame); trials: 2.6-2.9 px.
    assert figures["n_matched"] == 2 * len(test) and figures["median_error_px"] < 5.0, figures
    assert figures["part_recall"] > 0.8, figures
    # float32 gives the same animals (bf16 "auto" on CPUs with native bf16 moves peaks only
    # by rounding the maps and offsets; trials: median 0.02 px, 90 % within 0.03 px).
    predictor.config = dataclasses.replace(predictor.config, precision="float32")
    exact = predictor.predict(images)
    shift = np.concatenate([
        np.linalg.norm(e[i, :, :2] - p[j, :, :2], axis=-1)
        for e, p in zip(exact, poses, strict=True) for i, j in match_instances(e, p)])
    assert len(shift) == 2 * K * len(test)
    assert np.nanmedian(shift) < 0.25 and np.nanpercentile(shift, 90) < 1.0, shift
    strict = dataclasses.replace(predictor.config, part_threshold=0.999)
    predictor.config = strict
    assert np.isnan(predictor.predict(images[:1])[0][..., :2]).all()


def test_load_predictor_refuses_other_checkpoints(tmp_path) -> None:
    path = str(tmp_path / "single.pt")
    torch.save({"format": "poseloop-engine/1", "model_config": {}}, path)
    with pytest.raises(ValueError, match="not a multi-animal checkpoint"):
        load_predictor(path)

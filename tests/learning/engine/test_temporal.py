"""Temporal consistency on unlabeled consecutive frames (engine.temporal, train's frame_pairs)."""

import dataclasses

import numpy as np
import pytest
import torch

from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.decode import decode_heatmaps
from learning.engine.network import build_model
from learning.engine.temporal import FramePairs, soft_keypoints, temporal_loss
from learning.engine.train import train

MODEL = ModelConfig(num_keypoints=3, input_scale=1.0, head_channels=16, pretrained=None)
QUICK = TrainConfig(max_epochs=2, batch_size=4, num_threads=2,
                    augment=AugmentConfig(rotation_deg=10.0, blur_p=0.0))


def _peaked(h: int, w: int, points: list[tuple[int, int]]) -> torch.Tensor:
    logits = torch.full((1, len(points), h, w), -12.0)
    for k, (ix, iy) in enumerate(points):
        logits[0, k, iy, ix] = 12.0
    return logits


def test_soft_keypoints_find_a_sharp_peak_where_decoding_does():
    logits = _peaked(16, 20, [(3, 4), (17, 11)])
    locref = torch.zeros(1, 2, 2, 16, 20)
    locref[0, 1, :, 11, 17] = torch.tensor([0.5, -0.25])
    soft, confidence = soft_keypoints(logits, locref, 4, 8.0)
    hard, _ = decode_heatmaps(torch.sigmoid(logits), locref, 4, 8.0)
    assert torch.allclose(soft, hard, atol=0.05)
    assert torch.allclose(confidence, torch.ones(1, 2), atol=1e-4)


def test_the_loss_ignores_moves_within_the_margin_and_unseen_parts():
    a = torch.tensor([[[10.0, 10.0], [20.0, 20.0]]])
    b = torch.tensor([[[12.0, 10.0], [30.0, 20.0]]])
    sure = torch.ones(1, 2)
    assert temporal_loss(a, b, sure, sure, 3.0).item() == pytest.approx(7.0 / 2, abs=1e-4)
    assert temporal_loss(a, b, sure, sure, 10.0).item() == pytest.approx(0.0, abs=1e-4)
    unseen = torch.tensor([[1.0, 0.0]])  # the part that jumps is not seen in frame a
    assert temporal_loss(a, b, unseen, sure, 3.0).item() == pytest.approx(0.0, abs=1e-4)


def test_minimising_the_loss_brings_a_networks_predictions_on_a_pair_together():
    torch.manual_seed(0)
    model = build_model(MODEL).train()
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    moved = np.roll(frame, 8, axis=2)  # every part "jumps" 8 px between the frames
    images = torch.from_numpy(np.concatenate([frame, moved])).permute(0, 3, 1, 2).float() / 255
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss() -> torch.Tensor:
        xy, conf = soft_keypoints(*model(images), 4, MODEL.locref_scale_px)
        return temporal_loss(xy[:2], xy[2:], torch.ones_like(conf[:2]),
                             torch.ones_like(conf[2:]), 0.0)

    before = loss().item()
    for _ in range(15):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert loss().item() < 0.5 * before, (before, loss().item())


def test_frame_pairs_cut_both_frames_at_the_same_window():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)
    pairs = FramePairs([(frame, frame.copy())] * 3, 1.0, (64, 64), seed=2)
    items = [pairs[i % 3] for i in range(6)]
    assert all(torch.equal(item["a"], item["b"]) for item in items)
    assert all(item["a"].shape == (3, 64, 64) for item in items)
    assert len({int(item["a"].float().sum()) for item in items}) > 1  # the window moves


def test_training_with_frame_pairs_records_the_temporal_loss(make_samples):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (64, 80, 3), dtype=np.uint8) for _ in range(4)]
    cfg = dataclasses.replace(QUICK, temporal_weight=0.5, temporal_margin_px=0.0)
    result = train(make_samples(8), None, MODEL, cfg,
                   frame_pairs=list(zip(frames[::2], frames[1::2], strict=True)))
    assert all(np.isfinite(h["temporal_loss"]) for h in result.history)
    assert any(h["temporal_loss"] > 0 for h in result.history)
    plain = train(make_samples(8), None, MODEL, QUICK)
    assert all("temporal_loss" not in h for h in plain.history)


def test_frames_whose_loss_is_zero_change_nothing_not_even_norm_statistics(make_samples):
    """Identical frames agree exactly: the trained network must equal one trained without
    them, batch-norm running statistics included (the unlabeled windows must not enter them)."""
    frame = np.random.default_rng(1).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    with_pairs = train(make_samples(8), None, MODEL,
                       dataclasses.replace(QUICK, temporal_weight=1.0),
                       frame_pairs=[(frame, frame.copy())] * 2)
    assert all(h["temporal_loss"] == 0 for h in with_pairs.history)
    plain = train(make_samples(8), None, MODEL, QUICK)
    for (name, a), b in zip(with_pairs.model.state_dict().items(),
                            plain.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_temporal_weight_without_frames_or_below_zero_is_refused(make_samples):
    with pytest.raises(ValueError, match="frame_pairs"):
        train(make_samples(4), None, MODEL, dataclasses.replace(QUICK, temporal_weight=1.0))
    with pytest.raises(ValueError, match="temporal_weight"):
        TrainConfig(temporal_weight=-1.0)
    with pytest.raises(ValueError, match="temporal_pairs"):
        TrainConfig(temporal_pairs=0)

"""The engine's multi-peak ("merged") targets and the data/training checks around them."""

import dataclasses

import numpy as np
import pytest
import torch

from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.data import PoseDataset, PoseSample
from learning.engine.targets import make_targets
from learning.engine.train import train

ARGS = ((16, 20), 4, 3.0, 6.0, 5.0)  # heatmap (h, w), stride, sigma, locref radius, scale


def test_one_slot_per_channel_gives_the_single_animal_targets() -> None:
    kp = torch.tensor([[[10.0, 12.0], [40.0, 30.0], [70.0, 50.0]]])
    weights = torch.ones(1, 3)
    plain = make_targets(kp, weights, *ARGS)
    merged = make_targets(kp, weights, *ARGS, torch.tensor([[0, 1, 2]]), 3)
    for name in ("heatmaps", "locref", "locref_mask", "weights"):
        torch.testing.assert_close(getattr(merged, name), getattr(plain, name))


def test_two_slots_in_one_channel_give_two_peaks_and_their_own_offsets() -> None:
    kp = torch.tensor([[[10.0, 10.0], [50.0, 42.0], [0.0, 0.0]]])
    weights = torch.tensor([[1.0, 1.0, 0.0]])  # the third slot is padding
    targets = make_targets(kp, weights, *ARGS, torch.tensor([[0, 0, 1]]), 2)
    heat = targets.heatmaps[0, 0]
    cells = [(int(y) // 4, int(x) // 4) for x, y in kp[0, :2]]
    for cy, cx in cells:
        assert heat[cy, cx] > 0.9  # both animals have a peak
        assert heat[cy, cx] == heat[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2].max()
    # locref points from each cell to the slot it is nearest to
    for (cy, cx), (x, y) in zip(cells, kp[0, :2].tolist(), strict=True):
        offset = targets.locref[0, 0, :, cy, cx] * 5.0
        centre = torch.tensor([cx * 4 + 1.5, cy * 4 + 1.5])
        torch.testing.assert_close(centre + offset, torch.tensor([x, y]))
    # the empty channel is trained as "nothing here"
    assert targets.heatmaps[0, 1].max() == 0 and targets.weights.tolist() == [[1.0, 1.0]]


def _merged(path: str, points: list[list[float]], channels: list[int]) -> PoseSample:
    kp = np.array(points, dtype=np.float32).reshape(-1, 2)
    return PoseSample(path, kp, np.full(len(kp), 2, np.int8),
                      channels=np.array(channels, dtype=np.int64))


def test_dataset_pads_slots_and_keeps_channels(make_samples) -> None:
    base = make_samples(2)
    samples = [_merged(base[0].image_path, [[10, 10], [30, 20], [50, 40]], [0, 0, 1]),
               _merged(base[1].image_path, [], [])]
    ds = PoseDataset(samples, 1.0, (64, 80))
    first, empty = ds[0], ds[1]
    assert first["keypoints"].shape == (3, 2) and first["channels"].tolist() == [0, 0, 1]
    assert empty["weights"].tolist() == [0.0, 0.0, 0.0]
    augmented = PoseDataset(samples, 1.0, (64, 80), AugmentConfig(), seed=1)
    assert augmented[1]["image"].shape == (3, 64, 80)
    with pytest.raises(ValueError, match="flip_pairs"):
        PoseDataset(samples, 1.0, (64, 80), AugmentConfig(flip_pairs=((0, 1),)))
    with pytest.raises(ValueError, match="mixed"):
        PoseDataset([samples[0], base[0]], 1.0, (64, 80))
    assert "channels" not in PoseDataset(base, 1.0, (64, 80))[0]


def test_training_merged_samples_selects_by_loss(make_samples) -> None:
    base = make_samples(3)
    samples = [_merged(s.image_path, s.keypoints[:2].tolist(), [0, 0]) for s in base]
    model = ModelConfig(num_keypoints=1, input_scale=1.0, head_channels=16, pretrained=None)
    quick = TrainConfig(max_epochs=1, batch_size=2, num_threads=1, select_by="val_loss")
    with pytest.raises(ValueError, match="select_by"):
        train(samples, None, model, dataclasses.replace(quick, select_by="val_rmse"))
    with pytest.raises(ValueError, match="channels must be in"):
        train([_merged(base[0].image_path, [[5, 5]], [1])], None, model, quick)
    result = train(samples[:2], samples[2:], model, quick)
    assert result.best_val_loss is not None and np.isnan(result.best_val_rmse_px)

import dataclasses

import numpy as np
import pytest

from learning.engine.checkpoint import load_model, save_checkpoint
from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.metrics import evaluate
from learning.engine.network import build_model
from learning.engine.predict import predict_images, predict_samples
from learning.engine.train import TrainingCancelled, TrainProgress, train

MODEL = ModelConfig(num_keypoints=3, input_scale=1.0, head_channels=32, pretrained=None)
AUGMENT = AugmentConfig(rotation_deg=10.0, scale_range=(0.9, 1.1), blur_p=0.0)
QUICK = TrainConfig(max_epochs=1, batch_size=4, num_threads=2, augment=AUGMENT)


@pytest.mark.slow
def test_short_training_beats_untrained_model(make_samples, tmp_path) -> None:
    samples = make_samples(40, seed=1)
    test = make_samples(8, seed=2)
    cfg = dataclasses.replace(QUICK, max_epochs=10, lr=3e-3, val_fraction=0.1)
    reports: list[TrainProgress] = []
    result = train(samples, None, MODEL, cfg, progress=reports.append,
                   checkpoint_path=str(tmp_path / "best.pt"))
    trained = evaluate(*predict_samples(result.model, MODEL, test))["rmse_px"]
    untrained = evaluate(*predict_samples(build_model(MODEL).eval(), MODEL, test))["rmse_px"]
    assert trained < 4.0 < 15.0 < untrained, (trained, untrained)
    assert len(reports) == result.epochs == len(result.history)
    assert result.best_val_loss is not None and 0.0 <= result.data_share < 1.0
    assert result.best_val_rmse_px == min(h["val_rmse_px"] for h in result.history)
    model, _ = load_model(str(tmp_path / "best.pt"))
    reloaded = evaluate(*predict_samples(model, MODEL, test))["rmse_px"]
    assert reloaded == pytest.approx(trained, abs=1e-3)


def test_cancellation_raises(make_samples) -> None:
    calls = iter(range(100))
    cfg = dataclasses.replace(QUICK, max_epochs=5)
    with pytest.raises(TrainingCancelled):
        train(make_samples(8), None, MODEL, cfg, should_stop=lambda: next(calls) >= 2)


def test_time_budget_stops_training(make_samples) -> None:
    cfg = dataclasses.replace(QUICK, max_epochs=10_000, max_minutes=0.05)
    result = train(make_samples(8), make_samples(2, seed=5), MODEL, cfg)
    assert result.stopped_by == "time" and result.seconds < 30


def test_warm_start_requires_same_keypoints(make_samples, tmp_path) -> None:
    other = dataclasses.replace(MODEL, num_keypoints=2)
    path = str(tmp_path / "other.pt")
    save_checkpoint(path, build_model(other), other)
    with pytest.raises(ValueError, match="num_keypoints"):
        train(make_samples(4), None, MODEL, QUICK, init_checkpoint=path)
    same = str(tmp_path / "same.pt")
    save_checkpoint(same, build_model(MODEL), MODEL)
    result = train(make_samples(4), None, MODEL, QUICK, init_checkpoint=same)
    assert result.epochs == 1


def test_predict_images_handles_mixed_sizes_and_returns_heatmaps() -> None:
    model = build_model(MODEL).eval()
    images = [np.zeros((64, 80, 3), np.uint8), np.zeros((47, 90, 3), np.uint8)]
    poses, maps = predict_images(model, MODEL, images, batch_size=2, return_heatmaps=True)
    assert poses.shape == (2, 3, 3) and poses.dtype == np.float32
    assert ((poses[..., 2] >= 0) & (poses[..., 2] <= 1)).all()
    assert maps[0].shape == (3, 16, 20) and maps[1].shape == (3, 12, 23)


def test_ramped_ema_starts_close_to_the_weights_and_settles_at_the_decay() -> None:
    import torch

    from learning.engine.train import ramped_ema

    update = ramped_ema(0.99)
    averaged, current = [torch.zeros(3)], [torch.ones(3)]
    update(averaged, current, torch.tensor(0))  # decay (1 + 0) / 10 = 0.1: mostly the weights
    torch.testing.assert_close(averaged[0], torch.full((3,), 0.9))
    averaged = [torch.zeros(3)]
    update(averaged, current, torch.tensor(10_000))  # ramp over: the configured decay
    torch.testing.assert_close(averaged[0], torch.full((3,), 0.01))
    counters, latest = [torch.tensor([3])], [torch.tensor([7])]
    update(counters, latest, torch.tensor(5))  # integer buffers take the latest value
    assert counters[0].item() == 7


def test_training_keeps_the_weight_average(make_samples) -> None:
    samples = make_samples(8, k=2)
    cfg = ModelConfig(num_keypoints=2, input_scale=1.0, pretrained=None)
    raw = train(samples, None, cfg, TrainConfig(max_epochs=2, batch_size=4, val_fraction=0.0,
                                                ema_decay=0.0, seed=0))
    ema = train(samples, None, cfg, TrainConfig(max_epochs=2, batch_size=4, val_fraction=0.0,
                                                ema_decay=0.99, seed=0))
    # Same seed and steps: only the averaging differs, so the kept weights differ.
    w_raw = raw.model.heatmap.weight.detach()
    w_ema = ema.model.heatmap.weight.detach()
    assert not np.allclose(w_raw.numpy(), w_ema.numpy())
    with pytest.raises(ValueError):
        TrainConfig(ema_decay=1.0)


def test_select_last_keeps_the_final_epoch_and_never_stops_early(make_samples, tmp_path) -> None:
    """A student's few validation frames are too noisy to pick an epoch by: "last" keeps the
    final one, validation figures still reported, and patience does not cut the run short."""
    cfg = dataclasses.replace(QUICK, max_epochs=4, val_fraction=0.2, patience=1,
                              select_by="last")
    result = train(make_samples(20, seed=3), None, MODEL, cfg,
                   checkpoint_path=str(tmp_path / "kept.pt"))
    assert (result.epochs, result.stopped_by) == (4, "epochs")
    assert all(h["val_rmse_px"] is not None for h in result.history)
    assert result.best_val_rmse_px == result.history[-1]["val_rmse_px"]
    saved, _ = load_model(str(tmp_path / "kept.pt"))
    for name, value in result.model.state_dict().items():
        assert np.array_equal(value.cpu().numpy(), saved.state_dict()[name].cpu().numpy()), name


def test_select_by_is_checked() -> None:
    with pytest.raises(ValueError, match="select_by"):
        TrainConfig(select_by="best")

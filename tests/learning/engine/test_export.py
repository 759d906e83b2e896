"""Exported graphs (ONNX, TorchScript) and the threaded video pipeline agree with PyTorch."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from learning.engine.config import ModelConfig
from learning.engine.data import load_image
from learning.engine.export import (
    OnnxRunner,
    TorchRunner,
    TorchScriptRunner,
    export_onnx,
    export_torchscript,
)
from learning.engine.network import PoseNet
from learning.engine.predict import predict_images
from learning.engine.video import VideoReadError, analyze_video, iter_batches

TOLERANCE_PX = 0.5


def tiny_model(k: int = 3, scale: float = 1.0) -> tuple[PoseNet, ModelConfig]:
    """A small random network whose heatmaps have clear peaks (so argmax is stable)."""
    torch.manual_seed(0)
    cfg = ModelConfig(num_keypoints=k, input_scale=scale, head_channels=16, pretrained=None)
    model = PoseNet(cfg).eval()
    torch.nn.init.normal_(model.heatmap.weight, std=0.5)
    assert model.locref is not None
    torch.nn.init.normal_(model.locref.weight, std=0.05)
    return model, cfg


def _poses(runner, cfg: ModelConfig, images: list[np.ndarray]) -> np.ndarray:
    from learning.engine.data import resize_for_network, round_up
    from learning.engine.video import decode_outputs

    resized = [resize_for_network(im, cfg.input_scale) for im in images]
    h = round_up(max(r.shape[0] for r, _ in resized))
    w = round_up(max(r.shape[1] for r, _ in resized))
    batch = np.zeros((len(images), h, w, 3), np.uint8)
    for i, (r, _) in enumerate(resized):
        batch[i, : r.shape[0], : r.shape[1]] = r
    heat, locref = runner(batch)
    return decode_outputs(cfg, heat, locref, np.stack([s for _, s in resized]))


@pytest.fixture
def images(make_samples) -> list[np.ndarray]:
    return [load_image(s.image_path) for s in make_samples(6, k=3, size=(64, 80))]


def test_onnx_and_torchscript_match_pytorch(tmp_path: Path, images) -> None:
    model, cfg = tiny_model()
    reference = predict_images(model, cfg, images, batch_size=6)
    onnx_path = export_onnx(model, cfg, str(tmp_path / "m.onnx"), example_hw=(64, 96))
    ts_path = export_torchscript(model, cfg, str(tmp_path / "m.ts"), example_hw=(64, 96))
    for runner in (OnnxRunner(onnx_path, threads=1), TorchScriptRunner(ts_path)):
        got = _poses(runner, cfg, images)
        assert np.abs(got[..., :2] - reference[..., :2]).max() <= TOLERANCE_PX, runner.name
        np.testing.assert_allclose(got[..., 2], reference[..., 2], atol=1e-3)


def test_exported_graphs_accept_other_sizes(tmp_path: Path, images) -> None:
    """Batch, height and width are dynamic: export at one size, run at another."""
    model, cfg = tiny_model()
    onnx_path = export_onnx(model, cfg, str(tmp_path / "m.onnx"), example_hw=(32, 32))
    big = [cv2.resize(im, (150, 100)) for im in images[:3]]
    reference = predict_images(model, cfg, big)
    got = _poses(OnnxRunner(onnx_path, threads=1), cfg, big)
    assert np.abs(got[..., :2] - reference[..., :2]).max() <= TOLERANCE_PX


def test_channels_last_runner_matches_and_leaves_model_alone(images) -> None:
    model, cfg = tiny_model()
    reference = predict_images(model, cfg, images)
    got = _poses(TorchRunner(model, channels_last=True), cfg, images)
    assert np.abs(got[..., :2] - reference[..., :2]).max() <= TOLERANCE_PX
    assert model.heatmap.weight.is_contiguous()  # the caller's model was not converted


def test_a_padding_runner_gives_the_last_short_batch_its_own_outputs(images) -> None:
    model, cfg = tiny_model()
    batch = np.stack([im[:64, :64] for im in images])  # six frames
    plain = TorchRunner(copy.deepcopy(model))
    padded = TorchRunner(model, pad_batches=True)
    seen = []
    padded.model.register_forward_hook(lambda _m, args, _o: seen.append(len(args[0])))
    padded(batch)
    heat, locref = padded(batch[:2])  # run as six rows, two returned
    assert seen == [6, 6] and heat.shape[0] == 2 and locref is not None and locref.shape[0] == 2
    want_heat, want_locref = plain(batch[:2])
    assert torch.allclose(heat, want_heat, atol=1e-6)
    assert torch.allclose(locref, want_locref, atol=1e-6)
    assert not plain.pad_batches  # the default on the CPU; on CUDA it pads (test_cuda.py)
    padded(batch[:1, :32, :32])  # another image size (tracked windows): its own largest batch
    assert seen == [6, 6, 1]


def _write_video(path: Path, n: int = 23, size: tuple[int, int] = (96, 64)) -> list[np.ndarray]:
    """An mp4 of a moving disc; returns its frames as decoded (RGB)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for i in range(n):
        frame = np.full((size[1], size[0], 3), 30, np.uint8)
        cv2.circle(frame, (10 + 3 * i, 20 + i), 5, (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def test_video_analysis_equals_predict_images(tmp_path: Path) -> None:
    frames = _write_video(tmp_path / "v.mp4")
    model, cfg = tiny_model(scale=0.5)
    reference = predict_images(model, cfg, frames, batch_size=4)
    runner = TorchRunner(model)
    got = analyze_video(tmp_path / "v.mp4", runner, cfg, batch_size=4)
    np.testing.assert_array_equal(got, reference)


def test_split_at_batch_multiples_equals_one_pass(tmp_path: Path) -> None:
    _write_video(tmp_path / "v.mp4")
    model, cfg = tiny_model(scale=0.5)
    runner = TorchRunner(model, channels_last=True)
    whole = analyze_video(tmp_path / "v.mp4", runner, cfg, batch_size=4)
    parts = [
        analyze_video(tmp_path / "v.mp4", runner, cfg, start=a, stop=b, batch_size=4)
        for a, b in ((0, 8), (8, 16), (16, 23))
    ]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_range_past_the_end_fails(tmp_path: Path) -> None:
    _write_video(tmp_path / "v.mp4", n=5)
    with pytest.raises(VideoReadError):
        list(iter_batches(tmp_path / "v.mp4", 1.0, start=2, stop=9, batch_size=2))


def test_closing_early_stops_the_decoder(tmp_path: Path) -> None:
    _write_video(tmp_path / "v.mp4", n=20)
    batches = iter_batches(tmp_path / "v.mp4", 1.0, batch_size=2, prefetch=1)
    first = next(batches)
    batches.close()  # joins the thread; must not hang on the full queue
    assert first.start == 0 and first.images.shape == (2, 64, 96, 3)

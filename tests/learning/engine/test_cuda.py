"""The GPU path: training, prediction and analysis on CUDA with mixed precision.

Marked `cuda`: runs only where `torch.cuda.is_available()`; skipped (not failed) on CPU-only
machines (tests/conftest.py). The benchmarks' GPU paths are tested beside their CPU tests.
"""

import numpy as np
import pytest
import torch

from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.data import PoseSample
from learning.engine.distill import DistillConfig, distill, pseudo_label, pseudo_samples
from learning.engine.export import TorchRunner, gpu_runner
from learning.engine.network import PoseNet
from learning.engine.predict import predict_images
from learning.engine.train import train
from videos.synthetic import write_images

pytestmark = pytest.mark.cuda

CFG = ModelConfig(num_keypoints=4, backbone="resnet18", head_channels=32, pretrained=None)


def _samples(tmp_path, n=12):
    images = write_images(tmp_path, n, seed=4)
    return [PoseSample.from_keypoints(str(p), k[0])
            for p, k in zip(images.paths, images.keypoints, strict=True)]


def _train_cfg(**kwargs):
    return TrainConfig(max_epochs=2, max_minutes=1.0, batch_size=4, device="cuda",
                       augment=AugmentConfig(enabled=False), **kwargs)


def test_training_runs_on_cuda_with_mixed_precision(tmp_path):
    result = train(_samples(tmp_path), None, CFG, _train_cfg(val_fraction=0.2))
    assert result.device.startswith("cuda")
    assert np.isfinite([h["train_loss"] for h in result.history]).all()
    assert next(result.model.parameters()).is_cuda


def test_half_precision_prediction_on_cuda_matches_the_cpu(tmp_path):
    from tests.learning.engine.test_export import tiny_model

    # Clear peaks: a default-initialised head is nearly flat, and its argmax flips between
    # near-equal pixels under any change of precision (median 20 px on an H200).
    model, cfg = tiny_model(k=4)
    frames = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8)
              for i in range(4)]
    cpu = predict_images(model, cfg, frames, device="cpu")
    gpu = predict_images(model, cfg, frames, device="cuda")
    # fp16 autocast: the same peaks, likelihoods to ~1e-2.
    assert np.abs(cpu[..., 2] - gpu[..., 2]).max() < 2e-2
    assert np.median(np.abs(cpu[..., :2] - gpu[..., :2])) < 0.5


def test_the_analysis_runner_uses_the_gpu_with_an_fp32_head(tmp_path):
    torch.manual_seed(0)
    model = PoseNet(CFG).eval()
    batch = np.random.default_rng(0).integers(0, 255, (8, 128, 160, 3), dtype=np.uint8)
    runner = gpu_runner(model)
    heat_gpu, _ = runner(batch)
    heat_cpu, _ = TorchRunner(model)(batch)
    assert heat_gpu.dtype == torch.float32 and heat_gpu.shape == heat_cpu.shape
    assert (heat_gpu - heat_cpu).abs().max() < 5e-2
    # a video's short last batch runs padded to the batch size, its own rows returned
    assert runner.pad_batches
    heat_last, _ = runner(batch[:3])
    assert heat_last.shape[0] == 3 and (heat_last - heat_gpu[:3]).abs().max() < 5e-2


def test_a_student_distils_on_cuda(tmp_path):
    samples = _samples(tmp_path)
    teacher = PoseNet(CFG).eval().cuda()
    frames = [np.zeros((120, 160, 3), np.uint8)] * 4
    poses = pseudo_label(TorchRunner(teacher, device="cuda"), CFG, frames)
    poses[..., 2] = 0.9
    cfg = DistillConfig(head_channels=16)
    pseudo = pseudo_samples([s.image_path for s in samples[:4]], poses, cfg)
    student = ModelConfig(num_keypoints=4, backbone="mobilenet_v3_small", head_channels=16,
                          pretrained=None)
    result = distill(samples[4:], pseudo, student, _train_cfg(val_fraction=0.2), cfg)
    assert result.device.startswith("cuda") and result.epochs == 2


"""`bench infer`: the checkable interface of the video-analysis benchmark."""

from __future__ import annotations

import io
import json

import pytest
import torch
from django.core.management import call_command

from learning.engine.checkpoint import save_checkpoint
from tests.learning.engine.test_export import tiny_model
from tests.videofactory import make_video


@pytest.mark.slow
@pytest.mark.compute
@pytest.mark.django_db
def test_bench_infer_prints_the_figures_last(project, labeled_frames, tmp_path):
    labeled_frames(project, 6)
    video = make_video(tmp_path, n_frames=40)
    # Random weights with clear peaks: a flat random head would make argmax ties decide.
    model, cfg = tiny_model(k=4, scale=0.5)
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(str(checkpoint), model, cfg, project.bodypart_names())
    out = io.StringIO()
    backends = "torch,onnxruntime,onnxruntime-int8,onnxruntime-tracked"
    call_command("bench", "infer", "--project", project.name, "--video", str(video.path),
                 "--frames", "32", "--batch", "8", "--workers", "1,2", "--backends", backends,
                 "--checkpoint", str(checkpoint), stdout=out)
    text = out.getvalue()
    assert "model: checkpoint" in text
    result = json.loads(text.strip().splitlines()[-1])
    assert result["frames"] == 32 and result["fps_end_to_end"] > 0
    assert set(result["fps_by_backend"]) == set(backends.split(","))
    # float32 ONNX Runtime is the same network: its keypoints equal eager's
    assert result["max_abs_diff_px_by_backend"]["onnxruntime"] < 0.01
    assert result["median_distance_px_by_backend"]["onnxruntime"] < 0.01
    assert result["fps_decoded_frames_by_backend"] == {}  # CPU backends: video decoding counted
    assert result["max_abs_diff_px"] <= 0.5
    assert result["fastest_backend"] in result["fps_by_backend"]
    assert set(result["fps_by_workers"]) == {"1", "2"} and result["workers_speedup"] > 0
    assert set(result["labels_rmse_px_by_backend"]) == set(backends.split(","))
    confident = result["confident_vs_eager_by_backend"]
    assert confident["onnxruntime"]["max_abs_diff_px"] < 0.01
    assert all(0 <= c["flipped_share"] <= 1 for c in confident.values())
    assert all(v >= 0 for v in result["labels_rmse_px_by_backend"].values())
    work = result["gflop_per_frame"]
    # 160x120 video at scale 0.5 -> 96x64 network pixels, smaller than the 160x160 window
    assert 0 < work["whole_frame"] < work["window"]
    assert set(result["gflops_by_backend"]) == {"torch", "onnxruntime", "onnxruntime-int8"}
    assert "GFLOP per whole frame" in text


@pytest.mark.django_db
def test_bench_infer_refuses_unknown_backends(project, tmp_path):
    video = make_video(tmp_path, n_frames=8)
    with pytest.raises(SystemExit, match="unknown backends"):
        call_command("bench", "infer", "--project", project.name, "--video", str(video.path),
                     "--backends", "torch,tensorrt")


def test_a_dead_worker_process_fails_the_benchmark_instead_of_hanging(tmp_path):
    from learning.analysis.bench_infer import _parallel

    video = make_video(tmp_path, n_frames=8)
    _, cfg = tiny_model(k=4, scale=0.5)
    with pytest.raises(RuntimeError, match="worker process failed"):
        _parallel(1, "onnxruntime", {"onnx": str(tmp_path / "missing.onnx")}, cfg,
                  str(video.path), 8, 8, ["a", "b", "c", "d"])


@pytest.mark.django_db
def test_the_cuda_backend_is_refused_without_a_gpu_and_left_out_of_the_default(
        project, tmp_path, monkeypatch):
    from learning.analysis import bench_infer

    monkeypatch.setattr(bench_infer.torch.cuda, "is_available", lambda: False)
    assert "cuda" not in bench_infer._backends(None)
    assert bench_infer._backends("torch,onnxruntime") == ["torch", "onnxruntime"]
    video = make_video(tmp_path, n_frames=8)
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        call_command("bench", "infer", "--project", project.name, "--video", str(video.path),
                     "--backends", "torch,cuda")
    monkeypatch.setattr(bench_infer.torch.cuda, "is_available", lambda: True)
    assert bench_infer._backends(None)[-1] == "cuda"


def test_decoded_frames_are_timed_on_batches_cycled_from_memory(tmp_path):
    from learning.analysis.bench_infer import _decoded_fps
    from learning.engine.export import TorchRunner

    video = make_video(tmp_path, n_frames=40)
    model, cfg = tiny_model(k=4, scale=0.5)
    seen = []
    inner = TorchRunner(model)

    def runner(batch):
        seen.append(len(batch))
        return inner(batch)

    fps = _decoded_fps(runner, cfg, str(video.path), 40, 4)
    # eight batches of 4 frames kept in memory: one warm-up, then cycled until 40 are done
    assert seen == [4] * 11 and fps > 0


@pytest.mark.cuda
@pytest.mark.django_db
def test_bench_infer_times_the_gpu_analysis_path(project, tmp_path):
    video = make_video(tmp_path, n_frames=40)
    model, cfg = tiny_model(k=4, scale=0.5)
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(str(checkpoint), model, cfg, project.bodypart_names())
    out = io.StringIO()
    call_command("bench", "infer", "--project", project.name, "--video", str(video.path),
                 "--frames", "32", "--batch", "16", "--workers", "1", "--backends",
                 "torch,cuda", "--checkpoint", str(checkpoint), stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert set(result["fps_by_backend"]) == {"torch", "cuda"}
    assert result["fps_decoded_frames_by_backend"]["cuda"] > 0
    # bf16 backbone: the few points whose random-weight peaks are near-tied may move (104 px
    # on an H200); the rest stay in place
    assert result["median_distance_px_by_backend"]["cuda"] < 0.5
    assert result["gpu"] == torch.cuda.get_device_name()

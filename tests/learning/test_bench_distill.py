"""`bench distill`: the checkable interface of the distillation benchmark."""

from __future__ import annotations

import io
import json

import pytest
import torch
from django.core.management import CommandError, call_command

from tests.videofactory import make_video

KEYS = ("teacher_test_rmse_px", "student_test_rmse_px", "teacher_fps_end_to_end",
        "student_fps_end_to_end", "student_latency_ms_p50", "student_latency_ms_p99", "device")


@pytest.mark.slow
@pytest.mark.compute
@pytest.mark.django_db
def test_bench_distill_prints_the_figures_last(project, labeled_frames, tmp_path):
    labeled_frames(project, 10, stride=2)
    clip = make_video(tmp_path, n_frames=40)
    out = io.StringIO()
    call_command("bench", "distill", "--project", project.name, "--teacher-minutes", "0.03",
                 "--student-minutes", "0.03", "--frames", "12", "--head-channels", "16",
                 "--fps-frames", "32", "--latency-frames", "10", "--video", str(clip.path),
                 "--save", str(tmp_path / "saved"), "--seed", "3", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["seed"] == 3
    by_part = result["per_bodypart_test_rmse_px"]
    assert set(by_part["teacher"]) == set(by_part["student"]) == {
        "snout", "leftear", "rightear", "tailbase"}
    for key in KEYS:
        assert key in result, key
    assert result["student_fps_end_to_end"] > 0 and result["teacher_fps_end_to_end"] > 0
    assert 0 < result["student_latency_ms_p50"] <= result["student_latency_ms_p99"]
    assert result["distill"]["pseudo_frames"] == 12
    assert result["student"]["gflop_per_frame"] < result["teacher"]["gflop_per_frame"]
    assert (tmp_path / "saved" / "student.zip").is_file()
    # the analysis path of the machine: the GPU runner (and its in-memory figure) on CUDA only
    cuda = torch.cuda.is_available()
    assert result["fps_runner"] == ("cuda" if cuda else "onnxruntime")
    assert (result["student_fps_decoded_frames"] is not None) == cuda

    # Figures again for the saved networks, without training.
    again = io.StringIO()
    call_command("bench", "distill", "--project", project.name,
                 "--teacher-checkpoint", str(tmp_path / "saved" / "teacher.pt"),
                 "--student-checkpoint", str(tmp_path / "saved" / "student.pt"),
                 "--fps-frames", "16", "--latency-frames", "5", stdout=again)
    second = json.loads(again.getvalue().strip().splitlines()[-1])
    assert second["student_test_rmse_px"] == pytest.approx(result["student_test_rmse_px"])


def test_bench_distill_trains_with_the_seed_and_threads_asked():
    from learning.training.bench_distill import _overrides

    assert _overrides({"seed": 3, "threads": 2}) == {"seed": 3, "num_threads": 2}
    assert _overrides({"seed": None, "threads": None}) == {"seed": 0}


@pytest.mark.django_db
def test_bench_distill_needs_a_video(project, labeled_frames):
    labeled_frames(project, 4)
    with pytest.raises(CommandError, match="no videos"):
        call_command("bench", "distill", "--project", project.name, stdout=io.StringIO())


@pytest.mark.cuda
def test_distillation_times_students_on_the_gpu_runner(tmp_path, monkeypatch):
    from learning.engine import backends, export
    from learning.engine.config import ModelConfig
    from learning.engine.network import PoseNet
    from learning.training import bench_distill

    cfg = ModelConfig(num_keypoints=4, backbone="mobilenet_v3_small", head_channels=16,
                      pretrained=None)
    used = []
    monkeypatch.setattr(backends, "gpu_runner",
                        lambda model: used.append(model) or export.gpu_runner(model))
    video = make_video(tmp_path, n_frames=24)
    model = PoseNet(cfg).eval()
    fps, runner = bench_distill._fps(model, cfg, str(video.path), 24, 8, ["a", "b", "c", "d"],
                                     str(tmp_path))
    assert used == [model] and fps > 0 and runner == "cuda"

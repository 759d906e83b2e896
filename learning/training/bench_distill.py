"""Distil a project's model into a fast student: accuracy, whole-frame speed and latency.

Trains a teacher (the project's recipe, --teacher-minutes) on the project's fixed split (or a
held-out list), lets it label --frames frames of the project's videos, distils a student
(--student-minutes; `engine.distill`), evaluates both on the same test frames, then times
end-to-end whole-frame video analysis of both (decode + network + decode + pose table, on the
analysis path: the GPU runner where CUDA is present, else ONNX Runtime on the CPU) and the
student's single-frame latency through its exported bundle (`engine.realtime.RealtimePose`,
frames already in memory, as a camera delivers them). --video adds a video file to the project
when it has none.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import cv2
import torch
from django.core.management.base import CommandError

from learning.analysis.bench_infer import _decoded_fps, _end_to_end, _frame_count
from learning.engine.backends import analysis_runner
from learning.engine.config import ModelConfig
from learning.engine.distill import DistillConfig, distill, student_config
from learning.engine.export import OnnxRunner, gpu_runner
from learning.engine.network import PoseNet
from learning.engine.realtime import RealtimePose, latency_ms
from learning.engine.train import TrainProgress, gpu_name
from learning.exchange.model_export import bundle_meta, write_bundle
from learning.models import ModelVersion, VersionKind
from learning.training.bench_train import held_out_frames
from learning.training.datasets import ProjectDataset, build_dataset
from learning.training.distill import (
    comparison,
    project_videos,
    pseudo_labeled,
    student_train_config,
)
from learning.training.evaluation import evaluate_model
from learning.training.runs import fit, model_config_for, pretrained_weights, train_config_for
from projects.models import Project
from videos.models import Video


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DistillConfig()
    parser.add_argument("--project", required=True, help="Project name.")
    parser.add_argument("--teacher-minutes", type=float, default=10.0)
    parser.add_argument("--student-minutes", type=float, default=10.0)
    parser.add_argument("--test-list", type=Path, default=None,
                        help="File of held-out CollectedData index paths (default: the fixed "
                             "test split).")
    parser.add_argument("--video", type=Path, default=None,
                        help="A video file to add to the project (when it has none).")
    parser.add_argument("--teacher-checkpoint", type=Path, default=None,
                        help="Use this engine checkpoint as the teacher instead of training.")
    parser.add_argument("--student-checkpoint", type=Path, default=None,
                        help="Measure this engine checkpoint as the student instead of "
                             "distilling one (with --teacher-checkpoint: figures only).")
    parser.add_argument("--frames", type=int, default=defaults.frames,
                        help="Unlabeled frames the teacher labels.")
    parser.add_argument("--backbone", default=defaults.backbone, help="Student backbone.")
    parser.add_argument("--head-channels", type=int, default=defaults.head_channels)
    parser.add_argument("--input-scale", type=float, default=None,
                        help="Student input scale (default: the teacher's).")
    parser.add_argument("--weighting", default=defaults.weighting,
                        help="confidence or hard.")
    parser.add_argument("--min-confidence", type=float, default=defaults.min_confidence)
    parser.add_argument("--human-share", type=float, default=defaults.human_share,
                        help="Share of each epoch made of human labels.")
    parser.add_argument("--human-repeat", type=int, default=None,
                        help="Times each human label is seen per epoch (replaces --human-share).")
    parser.add_argument("--fps-frames", type=int, default=1200,
                        help="Video frames timed end to end (0: all).")
    parser.add_argument("--latency-frames", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    parser.add_argument("--seed", type=int, default=0,
                        help="Training seed of the networks trained here (initial weights, which "
                             "human labels validate, shuffling, augmentation); runs that differ "
                             "only in it show the spread.")
    parser.add_argument("--save", type=Path, default=None,
                        help="Folder to keep teacher.pt, student.pt and the student bundle in.")


def _video(project: Project, path: Path | None) -> Video:
    if path is not None:
        from videos.ingest import DuplicateVideo, add_video

        if not path.is_file():
            raise CommandError(f"no video file {path}")
        try:
            return add_video(project, path, name=path.name, register=True)
        except DuplicateVideo as exc:
            return exc.existing
    videos = project_videos(project)
    if not videos:
        raise CommandError(f"{project.name!r} has no videos for the teacher to label: pass "
                           "--video FILE")
    return max(videos, key=lambda v: v.frame_count)


def _teacher(options: dict[str, Any], project: Project, data: ProjectDataset,
             stdout: TextIO, show: Any) -> tuple[PoseNet, ModelConfig, float]:
    if options.get("teacher_checkpoint"):
        from learning.engine.checkpoint import load_model

        model, cfg = load_model(str(options["teacher_checkpoint"]))
        return model, cfg, 0.0
    cfg = model_config_for(project, len(data.keypoint_names), None, data.train)
    train_cfg = train_config_for(options["teacher_minutes"], len(data.train), data.flip_pairs,
                                 _overrides(options))
    stdout.write(f"teacher: {cfg.backbone}, head {cfg.head_channels}, "
                 f"{options['teacher_minutes']} min\n")
    result = fit(data, cfg, train_cfg, on_epoch=show)
    return result.model, cfg, result.seconds


def _overrides(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"seed": options.get("seed") or 0}
    if options.get("threads"):
        out["num_threads"] = options["threads"]
    return out


def _fps(model: PoseNet, cfg: ModelConfig, video: str, frames: int, batch: int,
         bodyparts: list[str], tmp: str) -> tuple[float, str]:
    """Whole-frame end-to-end frames/s on the analysis path (`engine.backends.analysis_runner`:
    the GPU runner where CUDA is present, else ONNX Runtime), after one warm-up batch, and
    the runner that ran ("cuda", "onnxruntime" or, after a failed export, "pytorch")."""
    runner = analysis_runner(model, cfg)
    _end_to_end(runner, cfg, video, 0, min(batch, frames), batch, tmp, bodyparts)
    started = time.perf_counter()
    _end_to_end(runner, cfg, video, 0, frames, batch, tmp, bodyparts)
    name = ("onnxruntime" if isinstance(runner, OnnxRunner)
            else "cuda" if torch.cuda.is_available() else "pytorch")
    return frames / (time.perf_counter() - started), name


def _in_memory_fps(model: PoseNet, cfg: ModelConfig, video: str, frames: int, batch: int
                   ) -> float | None:
    """On CUDA: the student's frames/s on frames already decoded into memory (network and
    keypoint decoding; what the GPU gives when the video decoder keeps up). None on the CPU."""
    if not torch.cuda.is_available():
        return None
    return _decoded_fps(gpu_runner(model), cfg, video, frames, batch)


def _frames(video: str, n: int) -> list[Any]:
    cap = cv2.VideoCapture(video)
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _latency(bundle: Path, video: str, n: int, stdout: TextIO) -> dict[str, Any]:
    """Single-frame latency with 1 and with all cores' ONNX Runtime threads; the lower p99
    is reported as the student's."""
    frames = _frames(video, n)
    by_threads = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        figures = latency_ms(RealtimePose(bundle, threads=threads), frames, bgr=True)
        by_threads[threads] = figures
        stdout.write(f"  single-frame latency, {threads} thread(s): p50 {figures['p50']:.2f} ms, "
                     f"p99 {figures['p99']:.2f} ms, max {figures['max']:.2f} ms\n")
    best = min(by_threads, key=lambda t: by_threads[t]["p99"])
    return {"threads": best, **by_threads[best],
            "by_threads": {str(t): {k: round(v, 2) for k, v in f.items()}
                           for t, f in by_threads.items()}}


def _distilled(teacher: PoseNet, teacher_cfg: ModelConfig, data: ProjectDataset,
               dcfg: DistillConfig, project: Project, options: dict[str, Any], tmp: str,
               stdout: TextIO, show: Any) -> tuple[PoseNet, ModelConfig, Any, list, float]:
    """The teacher labels the videos' frames, then the student is distilled."""
    runner = analysis_runner(teacher, teacher_cfg)  # what the platform's distillation uses
    pseudo, label_s = pseudo_labeled(runner, teacher_cfg, project_videos(project), dcfg, tmp)
    stdout.write(f"teacher labelled {len(pseudo)} frames in {label_s:.0f} s\n")
    scfg = student_config(teacher_cfg, dcfg, pretrained_weights(dcfg.backbone))
    train_cfg = student_train_config(options["student_minutes"], data, pseudo, dcfg,
                                     _overrides(options))
    stdout.write(f"student: {scfg.backbone}, head {scfg.head_channels}, input scale "
                 f"{scfg.input_scale}, {options['student_minutes']} min\n")
    result = distill(data.train, pseudo, scfg, train_cfg, dcfg, progress=show,
                     keypoint_names=data.keypoint_names)
    return result.model, scfg, result, pseudo, label_s


def _saved_student(options: dict[str, Any]) -> tuple[PoseNet, ModelConfig, Any, list, float]:
    """A student saved by an earlier run (--save): measured, not trained."""
    from types import SimpleNamespace

    from learning.engine.checkpoint import load_model

    model, cfg = load_model(str(options["student_checkpoint"]))
    result = SimpleNamespace(model=model, device=str(next(model.parameters()).device),
                             epochs=0, stopped_by="", seconds=0.0, images_per_s=0.0)
    return model, cfg, result, [], 0.0


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    project = Project.objects.filter(name=options["project"]).first()
    if project is None:
        raise CommandError(f"No project named {options['project']!r}.")
    dcfg = DistillConfig(backbone=options["backbone"], head_channels=options["head_channels"],
                         input_scale=options.get("input_scale"), frames=options["frames"],
                         min_confidence=options["min_confidence"],
                         weighting=options["weighting"], human_share=options["human_share"],
                         human_repeat=options["human_repeat"])
    if options.get("threads"):
        torch.set_num_threads(options["threads"])
    test_ids = held_out_frames(project, options["test_list"]) if options["test_list"] else None
    video = _video(project, options.get("video"))
    data = build_dataset(project, test_frame_ids=test_ids)
    load_before = os.getloadavg()
    stdout.write(f"{project.name}: {len(data.train)} train, {len(data.test)} test frames; "
                 f"video {video.name} ({video.frame_count} frames); load {load_before}\n")

    def show(p: TrainProgress) -> None:
        val = f" val {p.val_loss:.4f}" if p.val_loss is not None else ""
        stdout.write(f"  epoch {p.epoch} step {p.step} loss {p.train_loss:.4f}{val} "
                     f"{p.elapsed_s:.0f}s\n")

    teacher, teacher_cfg, teacher_s = _teacher(options, project, data, stdout, show)
    teacher_metrics, _ = evaluate_model(teacher, teacher_cfg, data.train, data.test,
                                        data.keypoint_names)
    stdout.write(f"teacher test RMSE {teacher_metrics['test_rmse_px']} px\n")
    save = options.get("save")
    with tempfile.TemporaryDirectory(prefix="bench-distill-") as tmp:
        if options.get("student_checkpoint"):
            student, scfg, result, pseudo, label_s = _saved_student(options)
        else:
            student, scfg, result, pseudo, label_s = _distilled(
                teacher, teacher_cfg, data, dcfg, project, options, tmp, stdout, show)
        metrics, _ = evaluate_model(student, scfg, data.train, data.test, data.keypoint_names)
        extra = comparison(teacher, teacher_cfg, result, scfg, data, pseudo, dcfg, label_s)
        stdout.write(f"student test RMSE {metrics['test_rmse_px']} px "
                     f"(teacher on the same frames {extra['teacher_test_rmse_px']} px)\n")
        bodyparts = data.keypoint_names
        path = str(Path(video.source_path) if video.source_path else Path(video.file.path))
        frames = options["fps_frames"] or _frame_count(path)
        frames = min(frames, video.frame_count)
        fps_teacher, _ = _fps(teacher, teacher_cfg, path, frames, options["batch"], bodyparts,
                              tmp)
        fps_student, fps_runner = _fps(student, scfg, path, frames, options["batch"], bodyparts,
                                       tmp)
        stdout.write(f"whole frames end to end ({fps_runner}, batch {options['batch']}): "
                     f"teacher {fps_teacher:.1f} fps, student {fps_student:.1f} fps\n")
        in_memory = _in_memory_fps(student, scfg, path, frames, options["batch"])
        if in_memory is not None:
            stdout.write(f"student on frames already in memory: {in_memory:.1f} fps\n")
        folder = Path(save) if save else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        unsaved = ModelVersion(project=project, iteration=0, kind=VersionKind.STUDENT,
                               metrics=dict(metrics))
        bundle = write_bundle(student, scfg, bundle_meta(unsaved, scfg), folder / "student.zip")
        latency = _latency(bundle, path, options["latency_frames"], stdout)
        if save:
            from learning.engine.checkpoint import save_checkpoint

            save_checkpoint(str(folder / "teacher.pt"), teacher, teacher_cfg, bodyparts)
            save_checkpoint(str(folder / "student.pt"), student, scfg, bodyparts)
    return {
        "teacher_test_rmse_px": extra["teacher_test_rmse_px"],
        "student_test_rmse_px": metrics["test_rmse_px"],
        "student_train_rmse_px": metrics["train_rmse_px"],
        "per_bodypart_test_rmse_px": {
            "teacher": teacher_metrics["per_bodypart_test_rmse_px"],
            "student": metrics["per_bodypart_test_rmse_px"]},
        "teacher_fps_end_to_end": round(fps_teacher, 2),
        "student_fps_end_to_end": round(fps_student, 2),
        "student_fps_decoded_frames": None if in_memory is None else round(in_memory, 2),
        "student_latency_ms_p50": round(latency["p50"], 2),
        "student_latency_ms_p99": round(latency["p99"], 2),
        "latency_threads": latency["threads"],
        "latency_by_threads": latency["by_threads"],
        "device": result.device,
        "gpu": gpu_name(),
        "fps_runner": fps_runner,
        "fps_batch": options["batch"],
        "seed": options.get("seed") or 0,
        "teacher": {"backbone": teacher_cfg.backbone, "head_channels": teacher_cfg.head_channels,
                    "input_scale": teacher_cfg.input_scale, "minutes": options["teacher_minutes"],
                    "training_s": round(teacher_s, 1),
                    "gflop_per_frame": extra["teacher_gflop_per_frame"]},
        "student": {"backbone": scfg.backbone, "head_channels": scfg.head_channels,
                    "input_scale": scfg.input_scale, "minutes": options["student_minutes"],
                    "epochs": result.epochs, "stopped_by": result.stopped_by,
                    "training_s": round(result.seconds, 1),
                    "images_per_s": round(result.images_per_s, 2),
                    "gflop_per_frame": extra["gflop_per_frame"]},
        "distill": extra["distill"],
        "n_train": len(data.train),
        "n_test": len(data.test),
        "fps_frames": frames,
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }

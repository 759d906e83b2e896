"""Fast models: distilling a ready version (the teacher) into a small student version.

A student is an ordinary ModelVersion (kind "student", `teacher` set): it is queued, claimed,
trained, evaluated on the project's fixed test split and exported like any other, under the
same one-active-version lock (`runs.start_training`'s partial unique index). It never becomes
current by itself (the current model pre-fills labels and selects frames); instead it is the
default for video analysis while its test error is within the project's
`student_tolerance_px` of its teacher's on the same test frames (`analysis_default`).

The run: the teacher labels `frames` frames spread over the project's videos (written as JPEG
files in a temporary folder), then `engine.distill.distill` trains the student on those and
the human labels (`docs/architecture.md`, "Fast models").
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jobs.models import JobKind
from jobs.progress import report
from learning.engine.checkpoint import save_checkpoint
from learning.engine.config import ModelConfig, TrainConfig
from learning.engine.data import PoseSample, pad_to_multiple, resize_for_network
from learning.engine.distill import (
    DistillConfig,
    distill,
    human_repeats,
    kept_pseudo,
    pseudo_label,
    pseudo_samples,
    student_config,
)
from learning.engine.export import Runner
from learning.engine.network import PoseNet, forward_gflop
from learning.engine.train import TrainResult
from learning.errors import Conflict
from learning.models import ModelVersion, VersionKind, VersionMetrics, VersionStatus
from learning.training.datasets import ProjectDataset, build_dataset
from learning.training.evaluation import finite_or_none, rmse_on
from learning.training.registry import (
    current_version,
    is_multi_animal,
    loaded_model,
    lock_project,
)
from learning.training.runs import (
    TRAIN_SHARE,
    Monitor,
    evaluate_and_store,
    pretrained_weights,
    queue_version,
    run_claimed,
    train_config_for,
)
from projects.models import Project
from videos.files import local_video_path
from videos.models import Video
from videos.sampling import iter_frames, spread

logger = logging.getLogger(__name__)

NO_EARLY_STOP = 1_000_000  # epochs: the student trains for its whole budget
PSEUDO_SHARE = 0.15  # of the job's progress bar: the teacher labelling frames
JPEG_QUALITY = 95


# --- starting -------------------------------------------------------------------------------

def project_videos(project: Project) -> list[Video]:
    return list(Video.objects.filter(project=project, deleted_at__isnull=True,
                                     frame_count__gt=0).order_by("pk"))


def start_distillation(teacher: ModelVersion, *, user: AbstractBaseUser | None = None,
                       minutes: float | None = None, options: dict[str, Any] | None = None,
                       dispatch: bool = True) -> ModelVersion:
    """Queue a student of `teacher`: a new version (kind student) and its job; its task is sent
    on commit (`dispatch=False`: not sent; the caller runs it, as `manage.py distill` does).

    ValidationError (400) for bad options, a teacher that is itself a student or a project
    without videos; Conflict (409) for a teacher that is not ready, or while another version
    of the project is queued or training (the same lock as training).
    """
    minutes = float(minutes if minutes is not None else settings.TRAIN_DEFAULT_MINUTES)
    if not 0 < minutes <= 24 * 60:
        raise ValidationError({"minutes": "Between 0 and 1440 minutes."})
    try:
        cfg = DistillConfig.from_dict(dict(options or {}))
    except ValueError as exc:
        raise ValidationError({"options": str(exc)}) from None
    if teacher.is_student:
        raise ValidationError({"version": "A fast model cannot teach another one; pick a "
                                          "standard model."})
    if is_multi_animal(teacher):
        raise ValidationError({"version": "Fast models of multi-animal models are not "
                                          "available yet."})
    if teacher.status != VersionStatus.READY or not teacher.checkpoint:
        raise Conflict(f"Model {teacher.iteration} is {teacher.status}; only a ready model can "
                       "be distilled.")
    project = teacher.project
    if not project_videos(project):
        raise ValidationError({"detail": "The teacher labels frames of the project's videos, "
                                         "and this project has none: upload one first."})
    return queue_version(project, JobKind.DISTILL,
                         {"minutes": minutes, "teacher_id": teacher.pk, "distill": cfg.to_dict()},
                         user, dispatch=dispatch, kind=VersionKind.STUDENT, teacher=teacher,
                         budget_minutes=minutes, trigger="distill")


# --- the run --------------------------------------------------------------------------------

def distill_project(version_id: int, *, job_id: int | None = None) -> ModelVersion:
    """Distil a queued student version (run by the training worker); see `runs.run_claimed`
    for claiming, cancellation and failure."""
    return run_claimed(version_id, job_id, _distill_and_evaluate)


def frame_plan(videos: list[Video], n: int) -> list[tuple[Video, list[int]]]:
    """n frame indices spread evenly over the videos, in proportion to their lengths."""
    total = sum(v.frame_count for v in videos)
    plan = []
    for video in videos:
        share = max(1, round(n * video.frame_count / max(total, 1)))
        plan.append((video, spread(np.arange(video.frame_count), share).tolist()))
    return plan


def _frames(videos: list[Video], n: int, folder: str, written: list[str]
            ) -> Iterator[np.ndarray]:
    """RGB frames of `frame_plan`, each also written as a JPEG (its path appended to
    `written`) for the student's data loader."""
    for video, indices in frame_plan(videos, n):
        with local_video_path(video) as path:
            for index, bgr in iter_frames(path, indices):
                name = os.path.join(folder, f"v{video.pk}-{index:07d}.jpg")
                cv2.imwrite(name, bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                written.append(name)
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def teacher_runner(teacher: ModelVersion) -> tuple[Runner, ModelConfig]:
    """The teacher's fastest float backend (the analysis one: ONNX Runtime on the CPU, eager
    channels-last with mixed precision on CUDA)."""
    from learning.analysis.videos import make_runner

    return make_runner(teacher)


def pseudo_labeled(runner: Runner, teacher_cfg: ModelConfig, videos: list[Video],
                   cfg: DistillConfig, folder: str, job_id: int | None = None
                   ) -> tuple[list[PoseSample], float]:
    """(pseudo-labeled samples, seconds) of `cfg.frames` frames of `videos` by the teacher
    (`runner`); the frames are written as JPEGs into `folder`."""
    written: list[str] = []
    started = time.perf_counter()

    def progress(done: int) -> None:
        if job_id is not None:
            report(job_id, PSEUDO_SHARE * done / cfg.frames,
                   f"The teacher labelled {done} of ~{cfg.frames} frames")

    poses = pseudo_label(runner, teacher_cfg, _frames(videos, cfg.frames, folder, written),
                         progress=progress)
    return pseudo_samples(written, poses, cfg), time.perf_counter() - started


def network_gflop(model: PoseNet, cfg: ModelConfig, samples: list[PoseSample]) -> float | None:
    """GFLOP of one whole-frame forward pass at the size of the first sample's image."""
    if not samples:
        return None
    image = cv2.imread(samples[0].image_path)
    if image is None:
        return None
    small, _ = resize_for_network(image, cfg.input_scale)
    height, width = pad_to_multiple([small]).shape[1:3]
    return round(forward_gflop(model, height, width), 3)


def _distill_and_evaluate(version: ModelVersion, job_id: int | None) -> ModelVersion:
    project, teacher = version.project, version.teacher
    if teacher is None or not teacher.checkpoint:
        raise ValidationError("The teacher model is gone.")
    params = version.job.params if version.job else {}
    cfg = DistillConfig.from_dict(params.get("distill", {}))
    data = build_dataset(project)
    teacher_model, teacher_cfg = loaded_model(teacher)
    if teacher_cfg.num_keypoints != len(data.keypoint_names):
        raise ValidationError("The skeleton changed since the teacher was trained.")
    student_cfg = _student_config(teacher_cfg, cfg)
    with tempfile.TemporaryDirectory(prefix="poseloop-distill-") as tmp:
        runner, _ = teacher_runner(teacher)
        pseudo, label_s = pseudo_labeled(runner, teacher_cfg, project_videos(project), cfg,
                                         tmp, job_id)
        train_cfg = student_train_config(
            version.budget_minutes or settings.TRAIN_DEFAULT_MINUTES, data, pseudo, cfg)
        version.label_snapshot = data.snapshot
        version.model_config = student_cfg.to_dict()
        version.train_config = train_cfg.to_dict()
        version.save(update_fields=["label_snapshot", "model_config", "train_config"])
        ckpt = os.path.join(tmp, "model.pt")
        monitor = Monitor(job_id, train_cfg, start=PSEUDO_SHARE, share=TRAIN_SHARE - PSEUDO_SHARE)
        result = distill(data.train, pseudo, student_cfg, train_cfg, cfg,
                         progress=monitor.progress, should_stop=monitor.should_stop,
                         checkpoint_path=ckpt, keypoint_names=data.keypoint_names)
        if not os.path.exists(ckpt):
            save_checkpoint(ckpt, result.model, student_cfg, data.keypoint_names)
        metrics = evaluate_and_store(version, result, student_cfg, data, ckpt, job_id)
        metrics.update(comparison(teacher_model, teacher_cfg, result, student_cfg, data,
                                   pseudo, cfg, label_s))
    mark_ready(version.pk, metrics, _verdict(project, teacher, metrics))
    version.refresh_from_db()
    return version


def student_train_config(minutes: float, data: ProjectDataset, pseudo: list[PoseSample],
                         cfg: DistillConfig, overrides: dict[str, Any] | None = None
                         ) -> TrainConfig:
    """The project's training recipe for `minutes` of the student: the whole budget, and the
    last epoch kept.

    The learning rate anneals (cosine) over the whole budget, and the student gains most in
    that last, low-rate part. Early stopping on the handful of held-out human frames cut an
    openfield student off at half its budget, still at a high rate, and picking the epoch
    with the lowest error on them kept a mid-run epoch of a 25-minute run (2.92 px where a
    20-minute run ended at 2.62; docs/benchmarks.md, issue 20): with ten validation frames
    the noise between epochs is larger than what the student still gains. So the student
    trains to the end of its schedule and keeps its final (weight-averaged) epoch; the
    validation error is still measured each epoch and shown.
    """
    repeats = human_repeats(cfg, data.train, pseudo)
    return train_config_for(minutes, len(data.train) * repeats + len(pseudo),
                            data.flip_pairs, {**(overrides or {}), "patience": NO_EARLY_STOP,
                                              "select_by": "last"})


def _student_config(teacher_cfg: ModelConfig, cfg: DistillConfig) -> ModelConfig:
    return student_config(teacher_cfg, cfg, pretrained_weights(cfg.backbone))


def comparison(teacher_model: PoseNet, teacher_cfg: ModelConfig, result: TrainResult,
                student_cfg: ModelConfig, data: ProjectDataset, pseudo: list[PoseSample],
                cfg: DistillConfig, label_s: float) -> VersionMetrics:
    """The teacher's error on the same test frames, both networks' work per frame, and
    what the pseudo-labels held."""
    images = data.test or data.train
    points = sum(int(s.present.sum()) for s in pseudo)
    return {
        "teacher_test_rmse_px": rmse_on(teacher_model, teacher_cfg, data.test)
        if data.test else None,
        "gflop_per_frame": network_gflop(result.model.cpu(), student_cfg, images) or 0.0,
        "teacher_gflop_per_frame": network_gflop(teacher_model, teacher_cfg, images) or 0.0,
        "distill": {**cfg.to_dict(), "pseudo_frames": len(pseudo),
                    "pseudo_frames_kept": len(kept_pseudo(pseudo)),
                    "human_repeats": human_repeats(cfg, data.train, pseudo),
                    "pseudo_points_kept": points,
                    "pseudo_points_share": round(points / max(1, len(pseudo) *
                                                              student_cfg.num_keypoints), 4),
                    "pseudo_label_s": round(label_s, 1)},
    }


def tolerance_verdict(student_rmse: float | None, teacher_rmse: float | None,
                      tolerance: float) -> bool:
    """True when the student's test error is at most `tolerance` px above the teacher's."""
    if student_rmse is None or teacher_rmse is None:
        return False
    return student_rmse <= teacher_rmse + tolerance


def _verdict(project: Project, teacher: ModelVersion, metrics: VersionMetrics) -> str:
    student, base = metrics.get("test_rmse_px"), metrics.get("teacher_test_rmse_px")
    if student is None or base is None:
        return (f"Fast model of model {teacher.iteration}: no test frames to compare it with "
                "its teacher, so it is not the default for analysis.")
    within = tolerance_verdict(student, base, project.student_tolerance_px)
    ratio = ""
    if metrics.get("gflop_per_frame"):
        ratio = (f"; {metrics['teacher_gflop_per_frame'] / metrics['gflop_per_frame']:.1f}x "
                 "less work per frame")
    return (f"Fast model of model {teacher.iteration}: test RMSE {student:.2f} px vs its "
            f"teacher's {base:.2f} px ({'within' if within else 'beyond'} the project's "
            f"tolerance of {project.student_tolerance_px:g} px){ratio}.")


def mark_ready(version_id: int, metrics: VersionMetrics, message: str) -> bool:
    """Store the student's metrics and mark it ready (never current). Conditional on the
    `evaluating` status, under the project row lock like promotion, so a version reaped or
    cancelled meanwhile stays as it is."""
    with transaction.atomic():
        lock_project(ModelVersion.objects.values_list("project_id", flat=True).get(pk=version_id))
        return bool(ModelVersion.objects.filter(
            pk=version_id, status=VersionStatus.EVALUATING
        ).update(status=VersionStatus.READY, metrics=dict(metrics), message=message[:500],
                 finished_at=timezone.now()))


# --- which model analyses videos ------------------------------------------------------------

def within_tolerance(student: ModelVersion, project: Project) -> bool:
    """A ready student whose test error is within the project's tolerance of its teacher's
    (both measured on the same test frames when the student was evaluated)."""
    return (student.status == VersionStatus.READY and bool(student.checkpoint)
            and tolerance_verdict(finite_or_none(student.metrics.get("test_rmse_px")),
                                  finite_or_none(student.metrics.get("teacher_test_rmse_px")),
                                  project.student_tolerance_px))


def fast_student(teacher: ModelVersion) -> ModelVersion | None:
    """The newest student of `teacher` within the project's tolerance, if any."""
    for student in ModelVersion.objects.filter(
            teacher=teacher, kind=VersionKind.STUDENT, status=VersionStatus.READY
    ).order_by("-iteration"):
        if within_tolerance(student, teacher.project):
            return student
    return None


def analysis_default(project: Project) -> ModelVersion | None:
    """The model that analyses videos when none is chosen: the current model's newest
    student within the project's tolerance, else the current model (None without one)."""
    current = current_version(project)
    if current is None or current.is_student:
        return current
    return fast_student(current) or current


def job_result(version: ModelVersion) -> dict[str, Any]:
    """What the distillation job reports as its result."""
    return {"version_id": version.pk, "status": version.status, "message": version.message,
            "test_rmse_px": version.metrics.get("test_rmse_px"),
            "teacher_test_rmse_px": version.metrics.get("teacher_test_rmse_px"),
            "teacher_id": version.teacher_id}


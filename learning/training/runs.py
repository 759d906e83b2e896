"""Training a project's model: starting (one at a time), the run itself, promotion.

The lock: ModelVersion's partial unique index `one_active_training` allows one queued,
training or evaluating version per project, so a second start fails at the INSERT
(IntegrityError → Conflict → HTTP 409), on SQLite and PostgreSQL alike. A version whose
worker died holds that slot only until `reap_stale` marks it failed (no heartbeat for
STALE_AFTER); it never becomes current, because promotion happens only after evaluation,
in the same transaction that marks the version ready.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from jobs.dispatch import dispatch_on_commit
from jobs.models import ACTIVE_STATUSES as ACTIVE_JOB_STATUSES
from jobs.models import Job, JobKind, JobStatus
from jobs.progress import JobCancelled, cancel_requested, create_job, report
from learning.engine.checkpoint import save_checkpoint
from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.data import PoseSample, with_animal_prior
from learning.engine.scale import DEFAULT_SCALE, ScaleChoice, choose_input_scale
from learning.engine.train import TrainingCancelled, TrainProgress, TrainResult, train
from learning.errors import Conflict
from learning.models import (
    ACTIVE_STATUSES,
    ModelVersion,
    VersionKind,
    VersionMetrics,
    VersionStatus,
)
from learning.training.datasets import ProjectDataset, build_dataset, labeled_frame_ids
from learning.training.evaluation import (
    N_IMAGES,
    evaluate_model,
    evaluation_pngs,
    per_frame_results,
    rmse_on,
)
from learning.training.registry import current_version, loaded_model, lock_project, set_current
from projects.models import Project

MIN_LABELED_FRAMES = 3
STALE_AFTER = timedelta(minutes=20)
HEARTBEAT_S = 5.0
PATIENCE_STEPS = 500
TRAIN_SHARE = 0.9  # of the job's progress bar; evaluation takes the rest
# Keys that must match for a warm start (the engine checks the same ones).
ARCHITECTURE_KEYS = ("num_keypoints", "backbone", "heatmap_stride", "head_channels", "locref")


def pretrained_weights(backbone: str) -> str | None:
    """settings.PRETRAINED_WEIGHTS_DIR: a weights file, or a folder with `<backbone>*.pth`."""
    configured = settings.PRETRAINED_WEIGHTS_DIR
    if not configured:
        return "auto"
    path = Path(configured)
    if path.is_file():
        return str(path)
    if path.is_dir():
        found = sorted(path.glob(f"{backbone}*.pth")) + sorted(path.glob(f"{backbone}*.pt"))
        if found:
            return str(found[0])
    return "auto"


def torch_device() -> str:
    """settings.TORCH_DEVICE as an engine device name ("" → auto; "cuda:1" → cuda)."""
    name = settings.TORCH_DEVICE or "auto"
    return "cuda" if name.startswith("cuda") else name


def data_workers() -> int:
    """DataLoader worker processes: on CUDA the augmentation runs beside the GPU (up to 4
    processes); on the CPU it stays in the training process (workers would only compete with
    the network for the same cores)."""
    import torch

    device = torch_device()
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return min(4, os.cpu_count() or 1) if cuda else 0


def effective_input_scale(project: Project) -> float:
    """The scale the project's next model uses: the PI's override, else the automatic choice
    stored by the first training, else the engine's default (not chosen yet)."""
    if project.input_scale is not None:
        return project.input_scale
    if project.input_scale_auto is not None:
        return project.input_scale_auto
    return DEFAULT_SCALE


def input_scale_status(project: Project) -> str:
    """How the settings page and the API describe the project's input scale."""
    if project.input_scale is not None:
        return f"{project.input_scale:g}, set by the PI (clear it for the automatic choice)"
    if project.input_scale_auto is not None:
        return f"automatic (chosen {project.input_scale_auto:g}: {project.input_scale_reason})"
    return (f"automatic (not chosen yet: chosen from the labels when the first model is "
            f"trained; {DEFAULT_SCALE:g} until then)")


def choose_project_scale(project: Project, samples: Sequence[PoseSample]) -> ScaleChoice:
    """Choose the automatic input scale from `samples` and store it with its reason (a plain
    UPDATE of the two fields; the one-active-training lock means one writer at a time)."""
    choice = choose_input_scale(samples)
    project.input_scale_auto, project.input_scale_reason = choice.scale, choice.reason[:300]
    Project.objects.filter(pk=project.pk).update(input_scale_auto=choice.scale,
                                                 input_scale_reason=choice.reason[:300])
    return choice


def model_config_for(project: Project, num_keypoints: int,
                     overrides: dict[str, Any] | None = None,
                     train_samples: Sequence[PoseSample] = ()) -> ModelConfig:
    """The project's network: its backbone and input scale (overrides: ModelConfig keys), and
    the single-animal decoding prior measured on `train_samples` (none without them).

    The input scale is the PI's override, else the stored automatic choice, else (the first
    model trained: the project's scale is automatic and not chosen yet) chosen from
    `train_samples` and stored (`choose_project_scale`)."""
    if (project.input_scale is None and project.input_scale_auto is None and train_samples
            and "input_scale" not in (overrides or {})):
        choose_project_scale(project, train_samples)
    values: dict[str, Any] = {
        "num_keypoints": num_keypoints, "backbone": project.backbone,
        "input_scale": effective_input_scale(project),
        "pretrained": pretrained_weights(project.backbone),
    }
    values.update(overrides or {})
    cfg = ModelConfig.from_dict(values)
    return cfg if "animal_radius_px" in values else with_animal_prior(cfg, train_samples)


def train_config_for(minutes: float, n_train: int, flip_pairs: tuple[tuple[int, int], ...],
                     overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Time budget, early-stopping patience (about PATIENCE_STEPS steps) and flip pairs."""
    base = TrainConfig()
    steps_per_epoch = max(1, n_train // base.batch_size)
    values: dict[str, Any] = {
        "max_minutes": minutes, "device": torch_device(), "val_fraction": 0.1,
        "num_workers": data_workers(),
        "patience": max(10, math.ceil(PATIENCE_STEPS / steps_per_epoch)),
        "augment": AugmentConfig(flip_pairs=flip_pairs).to_dict(),
    }
    overrides = dict(overrides or {})
    values["augment"].update(overrides.pop("augment", {}))
    return TrainConfig.from_dict({**values, **overrides})


# --- starting and reaping -------------------------------------------------------------------

def reap_stale(project_id: int, now: Any = None) -> int:
    """Mark active versions whose job ended or went silent (STALE_AFTER) as failed.

    Conditional UPDATEs on the version's status, so a version that finishes meanwhile keeps
    its result; the job row is failed too if it still looks active. Returns how many.
    """
    now = now or timezone.now()
    reaped = 0
    for version in ModelVersion.objects.filter(project_id=project_id,
                                               status__in=ACTIVE_STATUSES).select_related("job"):
        job = version.job
        if job is not None and job.status in ACTIVE_JOB_STATUSES and (
            version.status == VersionStatus.QUEUED or job.updated_at >= now - STALE_AFTER
        ):
            continue
        why = "its job ended" if job is None or not job.is_active else "its worker went silent"
        reaped += ModelVersion.objects.filter(pk=version.pk, status__in=ACTIVE_STATUSES).update(
            status=VersionStatus.FAILED, finished_at=now,
            message=f"Stale: {why} during {version.status}; the model was not used.",
        )
        if job is not None:
            Job.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
                status=JobStatus.FAILED, finished_at=now, message="Worker lost (stale training)")
    return reaped


def active_version(project: Project | int) -> ModelVersion | None:
    """The project's queued, training or evaluating version, if any."""
    project_id = project if isinstance(project, int) else project.pk
    return ModelVersion.objects.filter(project_id=project_id, status__in=ACTIVE_STATUSES).first()


def start_training(project: Project, *, user: AbstractBaseUser | None = None,
                   minutes: float | None = None, trigger: str = "manual",
                   overrides: dict[str, Any] | None = None) -> ModelVersion:
    """Queue a training of the project: a new version (queued) and its job; task on commit.

    Raises ValidationError (400) with fewer than MIN_LABELED_FRAMES labeled frames, Conflict
    (409) while another version is active. The lock is the `one_active_training` partial
    unique index (the INSERT fails); stale versions are reaped first. `overrides`:
    {"model": {...ModelConfig keys}, "train": {...TrainConfig keys}}, validated now.
    """
    minutes = float(minutes if minutes is not None else settings.TRAIN_DEFAULT_MINUTES)
    if not 0 < minutes <= 24 * 60:
        raise ValidationError({"minutes": "Between 0 and 1440 minutes."})
    overrides = _check_overrides(project, overrides or {})
    n_labeled = len(labeled_frame_ids(project))
    if n_labeled < MIN_LABELED_FRAMES:
        raise ValidationError({"detail": f"Training needs at least {MIN_LABELED_FRAMES} labeled "
                                         f"frames; this project has {n_labeled}."})
    return queue_version(project, JobKind.TRAIN,
                         {"minutes": minutes, "trigger": trigger, "overrides": overrides}, user,
                         budget_minutes=minutes, trigger=trigger)


def queue_version(project: Project, job_kind: JobKind, params: dict[str, Any],
                  user: AbstractBaseUser | None, *, dispatch: bool = True,
                  **fields: Any) -> ModelVersion:
    """A new queued version (the next iteration) and its job; the task is sent on commit.

    Shared by training and distillation: one version of a project is active at a time. The
    lock is the `one_active_training` partial unique index (the INSERT fails → Conflict);
    stale versions are reaped first. `fields` are the version's other fields.
    """
    with transaction.atomic():
        reap_stale(project.pk)
        if active_version(project) is not None:
            raise Conflict("A training of this project is already queued or running.")
        iteration = (ModelVersion.objects.filter(project=project)
                     .aggregate(m=Max("iteration"))["m"] or 0) + 1
        job = create_job(project.pk, job_kind, user_id=getattr(user, "pk", None),
                         params=params)
        try:
            with transaction.atomic():
                version = ModelVersion.objects.create(
                    project=project, iteration=iteration, status=VersionStatus.QUEUED, job=job,
                    created_by=user if user is not None and user.is_authenticated else None,
                    **fields)
        except IntegrityError:
            raise Conflict("A training of this project is already queued or running.") from None
        job.params = {**job.params, "version_id": version.pk}
        job.save(update_fields=["params", "updated_at"])
        if dispatch:
            dispatch_on_commit(job)
    return version


def _check_overrides(project: Project, overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - {"model", "train"}
    if unknown:
        raise ValidationError({"overrides": f"Unknown sections {sorted(unknown)}."})
    try:
        if project.multi_animal:
            from learning.engine.multi.config import TopDownConfig

            if overrides.get("train"):
                raise ValueError("a multi-animal model takes its settings under 'model' "
                                 "(TopDownConfig); 'train' is not used")
            TopDownConfig.from_dict(dict(overrides.get("model") or {}))
        else:
            model_config_for(project, 1, overrides.get("model"))
            if train_config_for(1.0, 1, (), overrides.get("train")).temporal_weight > 0:
                raise ValueError("temporal_weight is an experiment of replay_oracle "
                                 "(docs/benchmarks.md); project training does not use it")
    except (ValueError, TypeError) as exc:
        raise ValidationError({"overrides": str(exc)}) from None
    return overrides


def cancel_training(version: ModelVersion) -> ModelVersion:
    """Cancel a queued version at once, or ask a running one to stop (its job's flag).

    Conditional UPDATE on the queued status; Conflict (409) for finished versions.
    """
    now = timezone.now()
    if ModelVersion.objects.filter(pk=version.pk, status=VersionStatus.QUEUED).update(
            status=VersionStatus.CANCELLED, finished_at=now, message="Cancelled before start"):
        if version.job_id:
            Job.objects.filter(pk=version.job_id, status=JobStatus.QUEUED).update(
                status=JobStatus.CANCELLED, cancel_requested=True, finished_at=now,
                message="Cancelled")
    elif version.is_active and version.job_id:
        Job.objects.filter(pk=version.job_id, status__in=ACTIVE_JOB_STATUSES).update(
            cancel_requested=True)
    else:
        raise Conflict(f"Model {version.iteration} is {version.status}; nothing to cancel.")
    version.refresh_from_db()
    return version


# --- the run --------------------------------------------------------------------------------

class Monitor:
    """Progress reports per epoch (job row), heartbeat and cancel checks every HEARTBEAT_S.

    Training fills the job's bar from `start` to `start + share`."""

    def __init__(self, job_id: int | None, train_cfg: TrainConfig, start: float = 0.0,
                 share: float = TRAIN_SHARE) -> None:
        self.job_id = job_id
        self.cfg = train_cfg
        self.start, self.share = start, share
        self.last_check = time.monotonic()

    def progress(self, p: TrainProgress) -> None:
        if self.job_id is None:
            return
        fraction = max(p.epoch / p.max_epochs, p.elapsed_s / (self.cfg.max_minutes * 60))
        val = f", val {p.val_loss:.4f}" if p.val_loss is not None else ""
        report(self.job_id, self.start + self.share * min(1.0, fraction),
               f"Epoch {p.epoch}: loss {p.train_loss:.4f}{val}; ETA {p.eta_s:.0f} s")

    def should_stop(self) -> bool:
        if self.job_id is None or time.monotonic() - self.last_check < HEARTBEAT_S:
            return False
        self.last_check = time.monotonic()
        Job.objects.filter(pk=self.job_id).update(updated_at=timezone.now())
        return cancel_requested(self.job_id)


def warm_start_from(project: Project, model_cfg: ModelConfig) -> ModelVersion | None:
    """The version the next training starts from: a pending adopted model (kind
    `transferred`, newer than the current one and not yet trained from), else the current
    version; either only when its architecture matches `model_cfg` and it has a checkpoint."""
    current = current_version(project)
    adopted = (ModelVersion.objects.filter(project=project, kind=VersionKind.TRANSFERRED,
                                           status=VersionStatus.READY)
               .exclude(checkpoint="").exclude(children__status=VersionStatus.READY)
               .order_by("-iteration").first())
    if adopted is not None and current is not None and adopted.iteration < current.iteration:
        adopted = None
    for candidate in (adopted, current):
        if candidate is None or not candidate.checkpoint:
            continue
        old = candidate.model_config
        if all(old.get(k) == getattr(model_cfg, k) for k in ARCHITECTURE_KEYS):
            return candidate
    return None


def fit(data: ProjectDataset, model_cfg: ModelConfig, train_cfg: TrainConfig, *,
        init_checkpoint: str | None = None, job_id: int | None = None,
        checkpoint_path: str | None = None,
        on_epoch: Callable[[TrainProgress], None] | None = None) -> TrainResult:
    """Train on `data.train` (the engine holds out train_cfg.val_fraction for early stopping).

    Progress goes to the job (if any) and to `on_epoch`; the job's cancel flag stops it.
    """
    if not data.train:
        raise ValidationError("No training frames: every labeled frame is in the test split.")
    monitor = Monitor(job_id, train_cfg)

    def progress(p: TrainProgress) -> None:
        if on_epoch is not None:
            on_epoch(p)
        monitor.progress(p)

    result = train(data.train, None, model_cfg, train_cfg, init_checkpoint=init_checkpoint,
                   progress=progress, should_stop=monitor.should_stop,
                   checkpoint_path=checkpoint_path, keypoint_names=data.keypoint_names)
    if checkpoint_path is not None and not os.path.exists(checkpoint_path):
        save_checkpoint(checkpoint_path, result.model, model_cfg, data.keypoint_names)
    return result


def train_project(version_id: int, *, job_id: int | None = None) -> ModelVersion:
    """Train, evaluate and maybe promote a queued version (run by the training worker)."""
    return run_claimed(version_id, job_id, _train_and_evaluate)


def run_claimed(version_id: int, job_id: int | None,
                work: Callable[[ModelVersion, int | None], ModelVersion]) -> ModelVersion:
    """Claim a queued version and run `work` on it (training or distillation).

    Claims the version with a conditional UPDATE (queued → training); a version that is no
    longer queued raises JobCancelled. Cancellation (the job's flag) ends as `cancelled`
    (JobCancelled is raised on), errors as `failed` (re-raised).
    """
    claimed = ModelVersion.objects.filter(pk=version_id, status=VersionStatus.QUEUED).update(
        status=VersionStatus.TRAINING, started_at=timezone.now())
    if not claimed:
        raise JobCancelled(f"model version {version_id} is no longer queued")
    version = ModelVersion.objects.select_related("project", "job").get(pk=version_id)
    try:
        if job_id is not None and cancel_requested(job_id):
            raise JobCancelled("cancelled before start")
        return work(version, job_id)
    except (JobCancelled, TrainingCancelled) as exc:
        _end(version, VersionStatus.CANCELLED, "Cancelled")
        raise JobCancelled(str(exc)) from exc
    except Exception as exc:
        _end(version, VersionStatus.FAILED, f"{type(exc).__name__}: {exc}")
        raise


def _end(version: ModelVersion, status: VersionStatus, message: str) -> None:
    ModelVersion.objects.filter(pk=version.pk, status__in=ACTIVE_STATUSES).update(
        status=status, message=message[:500], finished_at=timezone.now())


def _train_and_evaluate(version: ModelVersion, job_id: int | None) -> ModelVersion:
    project = version.project
    if project.multi_animal:
        # Imported here: multi_runs builds on this module's helpers.
        from learning.training.multi_runs import train_and_evaluate_multi

        return train_and_evaluate_multi(version, job_id)
    params = version.job.params if version.job else {}
    overrides = params.get("overrides", {})
    data = build_dataset(project)
    model_cfg = model_config_for(project, len(data.keypoint_names), overrides.get("model"),
                                 data.train)
    train_cfg = train_config_for(version.budget_minutes or settings.TRAIN_DEFAULT_MINUTES,
                                 len(data.train), data.flip_pairs, overrides.get("train"))
    parent = warm_start_from(project, model_cfg)
    version.parent = parent
    version.label_snapshot = data.snapshot
    version.model_config = model_cfg.to_dict()
    version.train_config = train_cfg.to_dict()
    version.save(update_fields=["parent", "label_snapshot", "model_config", "train_config"])
    with tempfile.TemporaryDirectory(prefix="poseloop-train-") as tmp:
        ckpt = os.path.join(tmp, "model.pt")
        init = None
        if parent is not None:
            init = os.path.join(tmp, "init.pt")
            with open(init, "wb") as out, parent.checkpoint.open("rb") as src:
                out.write(src.read())
        result = fit(data, model_cfg, train_cfg, init_checkpoint=init, job_id=job_id,
                     checkpoint_path=ckpt)
        metrics = evaluate_and_store(version, result, model_cfg, data, ckpt, job_id)
    metrics["current_test_rmse_px"] = _current_rmse(project, data)
    promote_if_better(version.pk, metrics)
    version.refresh_from_db()
    return version


def evaluate_and_store(version: ModelVersion, result: TrainResult, model_cfg: ModelConfig,
                       data: ProjectDataset, ckpt: str, job_id: int | None) -> VersionMetrics:
    """Evaluate a trained version on the project's split (status → evaluating), store its
    checkpoint file, evaluation images and training figures; returns the metrics (not yet
    stored: promotion stores them with the ready status)."""
    if job_id is not None:
        report(job_id, TRAIN_SHARE, "Evaluating")
    ModelVersion.objects.filter(pk=version.pk, status=VersionStatus.TRAINING).update(
        status=VersionStatus.EVALUATING)
    metrics, test_pred = evaluate_model(result.model, model_cfg, data.train, data.test,
                                        data.keypoint_names)
    metrics.update(epochs=result.epochs, stopped_by=result.stopped_by,
                   n_labels=len(data.snapshot["labels"]))
    # The comparison images show the worst test frames first.
    per_frame, worst = per_frame_results(data.test, test_pred, data.test_frame_ids)
    metrics["per_frame_test"] = per_frame
    shown = [data.test[i] for i in worst]
    pngs = evaluation_pngs(shown, test_pred[worst] if worst else None,
                           data.keypoint_names, N_IMAGES)
    with open(ckpt, "rb") as fh:
        version.checkpoint.save("model.pt", File(fh), save=False)
    images = [default_storage.save(
        f"projects/{version.project_id}/models/{version.pk}/eval_{i}.png", ContentFile(png))
        for i, png in enumerate(pngs)]
    ModelVersion.objects.filter(pk=version.pk).update(
        checkpoint=version.checkpoint.name, eval_images=images, history=result.history,
        training_seconds=result.seconds, device=result.device,
        images_per_s=result.images_per_s, data_share=result.data_share)
    return metrics


def job_result(version: ModelVersion) -> dict[str, Any]:
    """What the training job reports as its result."""
    return {"version_id": version.pk, "status": version.status, "message": version.message,
            "test_rmse_px": version.metrics.get("test_rmse_px")}


def _current_rmse(project: Project, data: ProjectDataset) -> float | None:
    """The current model's error on this run's test frames (the fair comparison), or None."""
    current = current_version(project)
    if current is None or not current.checkpoint or not data.test:
        return None
    try:
        model, cfg = loaded_model(current)
        if cfg.num_keypoints != len(data.keypoint_names):
            return None
        return rmse_on(model, cfg, data.test)
    except (OSError, RuntimeError, ValueError, KeyError):
        return None


def improvement_verdict(new: float | None, baseline: float | None) -> tuple[bool, str]:
    """(promote?, message) for the test RMSE of the new model vs. the current one."""
    if baseline is None:
        return True, "Promoted: no comparable test error of the current model."
    if new is None:
        return False, "Not promoted: no test frames to show an improvement."
    if new < baseline:
        return True, f"Promoted: test RMSE {new:.2f} px < current {baseline:.2f} px."
    return False, (f"Not promoted: test RMSE {new:.2f} px does not beat the current model's "
                   f"{baseline:.2f} px on the same test frames.")


def promote_if_better(version_id: int, metrics: VersionMetrics) -> bool:
    """Mark the evaluated version ready, and current if it qualifies; returns whether it did.

    Current when there is none, when the project does not require improvement, or when its
    test RMSE beats the current model's on the same test frames. Atomic under the project row
    lock (SELECT … FOR UPDATE, as `registry.activate`); the ready UPDATE is conditional on
    `evaluating`, so a version reaped or cancelled meanwhile is never promoted.
    """
    with transaction.atomic():
        project = lock_project(
            ModelVersion.objects.values_list("project_id", flat=True).get(pk=version_id))
        current = current_version(project)
        if current is None:
            promote, message = True, "Promoted: first model of the project."
        elif not project.require_improvement:
            promote, message = True, "Promoted (the project does not require improvement)."
        else:
            baseline = metrics.get("current_test_rmse_px")
            if baseline is None:
                baseline = current.metrics.get("test_rmse_px")
            promote, message = improvement_verdict(metrics.get("test_rmse_px"), baseline)
        updated = ModelVersion.objects.filter(
            pk=version_id, status=VersionStatus.EVALUATING
        ).update(status=VersionStatus.READY, metrics=dict(metrics), message=message,
                 finished_at=timezone.now())
        if not updated:
            return False
        if promote:
            set_current(ModelVersion.objects.get(pk=version_id))
    return promote


"""Training and evaluating a multi-animal project's model (top-down: centroid + instance).

`runs` hands a multi-animal project's version here. The engine (`learning.engine.multi`)
trains both networks into one checkpoint; this module builds the data, reports progress to
the job, evaluates on the project's test frames with the multi-animal measures (OKS mAP,
per-node error after matching animals, missed and extra animals) and stores the version like
any other, so promotion, rollback, the registry and the dashboards treat it alike.
`test_rmse_px` is the mean error of the matched animals' parts (missed animals show in
`test_map_oks` and `test_recall`).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

from jobs.progress import report
from learning.engine.config import TrainConfig
from learning.engine.data import load_image
from learning.engine.multi.checkpoint import load_predictor
from learning.engine.multi.fitting import MultiProgress
from learning.engine.multi.match import matched_errors
from learning.engine.multi.metrics import node_errors, oks_map
from learning.engine.multi.samples import MultiSample
from learning.engine.multi.topdown import TopDownConfig, train_topdown
from learning.models import ModelVersion, VersionMetrics, VersionStatus
from learning.training.multi_datasets import MultiProjectDataset, build_multi_dataset
from learning.training.registry import current_version, loaded_predictor
from learning.training.runs import (
    TRAIN_SHARE,
    Monitor,
    pretrained_weights,
    promote_if_better,
    torch_device,
)
from projects.models import Project

MODEL_KINDS = ("topdown", "bottomup")


def is_multi_config(model_config: dict[str, Any]) -> bool:
    """Whether a version's stored model_config is a multi-animal design's."""
    return model_config.get("design") in MODEL_KINDS


def topdown_config(project: Project, data: MultiProjectDataset,
                   overrides: dict[str, Any] | None = None) -> TopDownConfig:
    """The project's top-down settings (backbone, animals, left/right pairs), auto fields
    resolved on its training frames."""
    values: dict[str, Any] = {
        "backbone": project.backbone,
        "pretrained": pretrained_weights(project.backbone),
        "max_instances": project.max_animals,
        "flip_pairs": data.flip_pairs,
        "device": torch_device(),
    }
    values.update(overrides or {})
    return TopDownConfig.from_dict(values).resolve(data.train)


def _gts(samples: Sequence[MultiSample]) -> list[np.ndarray]:
    return [np.where(s.present[..., None], s.keypoints, np.nan) for s in samples]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def multi_metrics(preds: Sequence[np.ndarray], samples: Sequence[MultiSample],
                  keypoint_names: Sequence[str], prefix: str) -> dict[str, Any]:
    """`<prefix>_rmse_px` (mean matched part error), `<prefix>_median_px`, `<prefix>_map_oks`,
    `<prefix>_recall`, missed and extra animals, and per-body-part errors for test."""
    gts = _gts(samples)
    matched = matched_errors(preds, gts)
    out: dict[str, Any] = {
        f"{prefix}_rmse_px": _finite(matched["mean_error_px"]),
        f"{prefix}_median_px": _finite(matched["median_error_px"]),
        f"{prefix}_map_oks": _finite(oks_map(preds, gts).map_oks),
        f"{prefix}_recall": _finite(matched["recall"]),
        f"{prefix}_missed_animals": matched["n_gt"] - matched["n_matched"],
        f"{prefix}_extra_animals": matched["n_pred"] - matched["n_matched"],
    }
    if prefix == "test":
        per_node = node_errors(preds, gts)
        out["per_bodypart_test_rmse_px"] = {
            name: _finite(float(np.mean(e))) if len(e) else None
            for name, e in zip(keypoint_names, per_node, strict=True)}
    return out


def predict_samples(predictor: Any, samples: Sequence[MultiSample]) -> list[np.ndarray]:
    """The predictor's animals (n_i, K, 3) for each sample's image."""
    return predictor.predict([load_image(s.image_path) for s in samples]) if samples else []


def _current_baseline(project: Project, data: MultiProjectDataset) -> float | None:
    """The current multi-animal model's matched error on this run's test frames, or None."""
    current = current_version(project)
    if current is None or not current.checkpoint or not data.test \
            or not is_multi_config(current.model_config):
        return None
    try:
        predictor = loaded_predictor(current)
        found = multi_metrics(predict_samples(predictor, data.test), data.test,
                              data.keypoint_names, "test")
    except (OSError, RuntimeError, ValueError, KeyError):
        return None
    return found["test_rmse_px"]


def train_and_evaluate_multi(version: ModelVersion, job_id: int | None) -> ModelVersion:
    """Train the version of a multi-animal project, evaluate it, store it, maybe promote it."""
    project = version.project
    params = version.job.params if version.job else {}
    data = build_multi_dataset(project)
    if not data.train:
        raise ValidationError("No training frames: every labeled frame is in the test split.")
    if not any(len(s.animals) for s in data.train):
        raise ValidationError("The training frames hold no labeled animal.")
    cfg = topdown_config(project, data, params.get("overrides", {}).get("model"))
    minutes = float(version.budget_minutes or settings.TRAIN_DEFAULT_MINUTES)
    version.label_snapshot = data.snapshot
    version.model_config = {"design": "topdown", **cfg.to_dict()}  # resolved again in training
    version.train_config = {"max_minutes": minutes}
    version.save(update_fields=["label_snapshot", "model_config", "train_config"])
    monitor = Monitor(job_id, TrainConfig(max_minutes=minutes))

    def progress(p: MultiProgress) -> None:
        if job_id is not None:
            report(job_id, TRAIN_SHARE * p.fraction,
                   f"{p.stage}: epoch {p.train.epoch}, loss {p.train.train_loss:.4f}")

    with tempfile.TemporaryDirectory(prefix="poseloop-multi-train-") as tmp:
        ckpt = os.path.join(tmp, "model.pt")
        result = train_topdown(data.train, None, cfg, minutes=minutes,
                               keypoint_names=data.keypoint_names, progress=progress,
                               should_stop=monitor.should_stop, checkpoint_path=ckpt,
                               workdir=os.path.join(tmp, "work"))
        if job_id is not None:
            report(job_id, TRAIN_SHARE, "Evaluating")
        ModelVersion.objects.filter(pk=version.pk, status=VersionStatus.TRAINING).update(
            status=VersionStatus.EVALUATING)
        predictor = load_predictor(ckpt)
        metrics: VersionMetrics = {}  # type: ignore[typeddict-item]
        metrics.update(multi_metrics(predict_samples(predictor, data.test), data.test,
                                     data.keypoint_names, "test"))  # type: ignore[typeddict-item]
        metrics.update(multi_metrics(predict_samples(predictor, data.train[:50]),
                                     data.train[:50], data.keypoint_names, "train"))  # type: ignore[typeddict-item]
        metrics.update(epochs=result.instance.epochs, stopped_by=result.instance.stopped_by,
                       n_train=len(data.train), n_test=len(data.test),
                       n_labels=len(data.snapshot["labels"]),
                       n_train_animals=sum(len(s.animals) for s in data.train))  # type: ignore[typeddict-item]
        with open(ckpt, "rb") as fh:
            version.checkpoint.save("model.pt", File(fh), save=False)
    ModelVersion.objects.filter(pk=version.pk).update(
        checkpoint=version.checkpoint.name, training_seconds=result.seconds,
        model_config={"design": "topdown", **result.config.to_dict()},
        device=result.instance.device, history=result.instance.history,
        images_per_s=result.instance.images_per_s, data_share=result.instance.data_share)
    metrics["current_test_rmse_px"] = _current_baseline(project, data)
    promote_if_better(version.pk, metrics)
    version.refresh_from_db()
    return version

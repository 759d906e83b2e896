"""Which model is current, promotion and rollback, and loading models for prediction."""

from __future__ import annotations

import copy
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

import numpy as np
import torch
from django.core.exceptions import ValidationError
from django.db import transaction

from learning.engine.checkpoint import load_model
from learning.engine.config import ModelConfig
from learning.engine.data import load_image
from learning.engine.network import PoseNet
from learning.engine.predict import predict_images
from learning.errors import Conflict
from learning.models import CurrentModel, ModelVersion, VersionStatus
from learning.training.datasets import local_image_path
from projects.models import Project
from videos.models import Frame

CACHE_SIZE = 3
_cache: OrderedDict[int, tuple[PoseNet, ModelConfig]] = OrderedDict()
_predictors: OrderedDict[int, Any] = OrderedDict()
T = TypeVar("T")
_cache_lock = threading.Lock()


class PredictedPoint(TypedDict):
    bodypart: int  # the BodyPart id, as in labels (docs/annotation-api-contract.md)
    name: str
    x: float | None
    y: float | None
    likelihood: float | None


def current_version(project: Project | int) -> ModelVersion | None:
    """The project's current model version, or None."""
    project_id = project if isinstance(project, int) else project.pk
    pointer = CurrentModel.objects.select_related("version").filter(project_id=project_id).first()
    return pointer.version if pointer else None


def set_current(version: ModelVersion) -> None:
    """Point the project at `version`. Call inside a transaction holding the project row lock."""
    CurrentModel.objects.update_or_create(project_id=version.project_id,
                                          defaults={"version": version})


def lock_project(project_id: int) -> Project:
    """SELECT … FOR UPDATE on the project row: serializes promotions and rollbacks."""
    return Project.objects.select_for_update().get(pk=project_id)


def activate(version: ModelVersion) -> ModelVersion:
    """Make a ready version current (the PI's rollback). 409 for versions not ready.

    Atomic under the project row lock (`lock_project`), like promotion after training.
    """
    with transaction.atomic():
        lock_project(version.project_id)
        version.refresh_from_db()
        if version.status != VersionStatus.READY or not version.checkpoint:
            raise Conflict(f"Model {version.iteration} is {version.status}; only ready models "
                           "with a checkpoint can become current.")
        set_current(version)
    return version


def previous_current(version: ModelVersion) -> ModelVersion | None:
    """The latest ready version older than `version` (what it replaced, roughly)."""
    return (ModelVersion.objects.filter(project_id=version.project_id,
                                        iteration__lt=version.iteration,
                                        status=VersionStatus.READY)
            .order_by("-iteration").first())


def _load(version: ModelVersion) -> tuple[PoseNet, ModelConfig]:
    """Load from the local file, or from a temporary copy of a remote storage's file."""
    return _local_checkpoint(version, load_model)


def loaded_model(version: ModelVersion) -> tuple[PoseNet, ModelConfig]:
    """The version's network on CPU, cached per process by version id (a few at most)."""
    with _cache_lock:
        if version.pk in _cache:
            _cache.move_to_end(version.pk)
            return _cache[version.pk]
    model, cfg = _load(version)
    with _cache_lock:
        _cache[version.pk] = (model, cfg)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return model, cfg


def for_inference(model: PoseNet) -> PoseNet:
    """The model on CUDA when there is a GPU (a copy: the cached CPU model stays where other
    callers expect it), else the model itself. Batches then run under float16 autocast
    (`engine.predict.predict_batch`)."""
    if not torch.cuda.is_available():
        return model
    return copy.deepcopy(model).to("cuda").eval()


def clear_cache() -> None:
    """Forget loaded models (tests)."""
    with _cache_lock:
        _cache.clear()
        _predictors.clear()


def is_multi_animal(version: ModelVersion) -> bool:
    """Whether the version is a multi-animal design (`engine.multi`), not a PoseNet."""
    return version.model_config.get("design") in ("topdown", "bottomup")


def _local_checkpoint(version: ModelVersion, load: Callable[[str], T]) -> T:
    try:
        return load(version.checkpoint.path)
    except NotImplementedError:
        pass
    fd, tmp = tempfile.mkstemp(suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as out, version.checkpoint.open("rb") as src:
            out.write(src.read())
        return load(tmp)
    finally:
        os.unlink(tmp)


def loaded_predictor(version: ModelVersion) -> Any:
    """A multi-animal version's predictor (`engine.multi.predictors`), cached per process."""
    from learning.engine.multi.checkpoint import load_predictor

    with _cache_lock:
        if version.pk in _predictors:
            _predictors.move_to_end(version.pk)
            return _predictors[version.pk]
    predictor = _local_checkpoint(version, load_predictor)
    with _cache_lock:
        _predictors[version.pk] = predictor
        while len(_predictors) > CACHE_SIZE:
            _predictors.popitem(last=False)
    return predictor


class PredictedInstance(TypedDict):
    track: str
    score: float | None
    points: list[PredictedPoint]


def predict_instances(version: ModelVersion, frame: Frame, bodyparts: list[tuple[int, str]]
                      ) -> list[PredictedInstance]:
    """A multi-animal version's animals in one frame, best first, each one point per body
    part (x, y None where the part was not found); tracks are named by rank (track_0…)."""
    predictor = loaded_predictor(version)
    animals = predictor.predict([load_image(local_image_path(frame))])[0]
    if animals.size and animals.shape[1] != len(bodyparts):
        raise ValidationError("The skeleton changed since this model was trained.")
    out: list[PredictedInstance] = []
    for n, pose in enumerate(animals):
        found = np.isfinite(pose[:, :2]).all(axis=1)
        conf = pose[found, 2]
        out.append({
            "track": f"track_{n}",
            "score": float(conf.mean()) if conf.size else None,
            "points": [
                {"bodypart": part_id, "name": name,
                 "x": float(pose[k, 0]) if found[k] else None,
                 "y": float(pose[k, 1]) if found[k] else None,
                 "likelihood": float(pose[k, 2]) if found[k] else None}
                for k, (part_id, name) in enumerate(bodyparts)],
        })
    return out


def predict_frame(version: ModelVersion, frame: Frame, bodyparts: list[tuple[int, str]]
                  ) -> list[PredictedPoint]:
    """The version's prediction for one frame, one point per (id, name) body part, in order."""
    model, cfg = loaded_model(version)
    if cfg.num_keypoints != len(bodyparts):
        raise ValidationError("The skeleton changed since this model was trained.")
    pose = predict_images(model, cfg, [load_image(local_image_path(frame))], batch_size=1)[0]
    return [
        {"bodypart": part_id, "name": name, "x": float(pose[k, 0]), "y": float(pose[k, 1]),
         "likelihood": float(pose[k, 2])}
        for k, (part_id, name) in enumerate(bodyparts)
    ]

"""Adopting a model into a project: a zoo entry or another project's ready version becomes a
ready `transferred` version of this project (body parts mapped by name, editable); it is the
current model when the project has none, else the warm start of the next training."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Max

from accounts.access import PI_ONLY, has_role, visible_projects
from jobs.models import Job
from learning.analysis.videos import start_analysis
from learning.engine.checkpoint import load_checkpoint, save_checkpoint
from learning.engine.config import ModelConfig
from learning.engine.transfer import default_mapping, transferred_model
from learning.models import ModelVersion, VersionKind, VersionStatus
from learning.training.registry import (
    current_version,
    is_multi_animal,
    lock_project,
    set_current,
)
from learning.zoo.entries import visible_entries
from learning.zoo.models import ZooEntry
from projects.models import Backbone, Project
from projects.services import create_project
from videos.models import Video

User = AbstractBaseUser | AnonymousUser


def _source_checkpoint(source: ZooEntry | ModelVersion) -> dict[str, Any]:
    with source.checkpoint.open("rb") as fh:
        return load_checkpoint(fh)  # type: ignore[arg-type]


def _check_mapping(mapping: Any) -> dict[str, str | None] | None:
    if mapping is None:
        return None
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in mapping.items()):
        raise ValidationError({"mapping": "An object {target body part: source body part or "
                                          "null}."})
    return mapping


def _describe(source: ZooEntry | ModelVersion) -> dict[str, Any]:
    if isinstance(source, ZooEntry):
        return {"zoo_entry": source.pk, "name": source.name,
                "test_rmse_px": source.test_rmse_px, "n_labels": source.n_labels}
    return {"project": source.project_id, "project_name": source.project.name,
            "version": source.pk, "iteration": source.iteration,
            "test_rmse_px": source.metrics.get("test_rmse_px")}


def _check_source(user: User, project: Project, source: ZooEntry | ModelVersion) -> None:
    if isinstance(source, ZooEntry):
        if not visible_entries(user).filter(pk=source.pk).exists():
            raise ValidationError({"zoo_entry": "No such zoo entry."})
        return
    if not visible_projects(user).filter(pk=source.project_id).exists():
        raise ValidationError({"version": "No such model version."})
    if source.status != VersionStatus.READY or not source.checkpoint:
        raise ValidationError({"version": f"Model {source.iteration} is {source.status}; "
                                          "only ready models can be adopted."})


def adopt(project: Project, user: User, source: ZooEntry | ModelVersion,
          mapping: Mapping[str, str | None] | None = None) -> ModelVersion:
    """A ready `transferred` version of `project` made from `source` (PI of the project).

    `mapping` (target part → source part or None) edits the by-name default. The version
    becomes current when the project has none. ValidationError (nothing created) for a source
    the user may not use, a different backbone or a bad mapping."""
    if not has_role(user, project, PI_ONLY):
        raise PermissionDenied("Only a PI of the project may adopt a model into it.")
    _check_source(user, project, source)
    if project.multi_animal or (isinstance(source, ModelVersion) and is_multi_animal(source)):
        raise ValidationError({"detail": "Adopting models into or from multi-animal projects "
                                         "is not available yet."})
    mapping = _check_mapping(mapping)
    ckpt = _source_checkpoint(source)
    source_cfg = dict(ckpt["model_config"])
    if source_cfg.get("backbone") != project.backbone:
        raise ValidationError({"detail": (
            f"This model's backbone is {source_cfg.get('backbone')}; the project trains "
            f"{project.backbone}. Change the project's backbone in its settings first.")})
    names = project.bodypart_names()
    full = default_mapping(ckpt.get("keypoint_names") or [], names)
    full.update(mapping or {})
    cfg = ModelConfig.from_dict({**source_cfg, "num_keypoints": len(names), "pretrained": None})
    try:
        model, report = transferred_model(ckpt, cfg, names, full)
    except ValueError as exc:
        raise ValidationError({"mapping": str(exc)}) from None
    parent = source if isinstance(source, ModelVersion) else source.source_version
    described = _describe(source)
    with tempfile.TemporaryDirectory(prefix="poseloop-adopt-") as tmp:
        path = os.path.join(tmp, "model.pt")
        save_checkpoint(path, model, cfg, names, meta={"transferred_from": described})
        with transaction.atomic():
            lock_project(project.pk)
            iteration = (ModelVersion.objects.filter(project=project)
                         .aggregate(m=Max("iteration"))["m"] or 0) + 1
            origin = (f"zoo entry “{source.name}”" if isinstance(source, ZooEntry)
                      else f"model {source.iteration} of project {source.project.name}")
            version = ModelVersion.objects.create(
                project=project, iteration=iteration, kind=VersionKind.TRANSFERRED,
                status=VersionStatus.READY, parent=parent, model_config=cfg.to_dict(),
                metrics={"test_rmse_px": None, "n_labels": 0, "source": described,
                         "transfer": report.to_dict()},
                message=f"Adopted from {origin}: {len(report.matched)} of {len(names)} body "
                        "parts matched.",
                created_by=user if user.is_authenticated else None, trigger="adopt")
            with open(path, "rb") as fh:
                version.checkpoint.save("model.pt", File(fh), save=True)
            if current_version(project) is None:
                set_current(version)
    return version


def start_project(entry: ZooEntry, user: User, name: str) -> tuple[Project, ModelVersion]:
    """A new project (the user its PI) with the entry's body parts, skeleton, left/right
    pairs, backbone and input scale, and the entry adopted as its current model."""
    if not visible_entries(user).filter(pk=entry.pk).exists():
        raise ValidationError({"zoo_entry": "No such zoo entry."})
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError({"name": "A project name of 1 to 120 characters is needed."})
    if Project.objects.filter(name=name).exists():
        raise ValidationError({"name": "A project with this name exists."})
    cfg = entry.model_config
    if cfg.get("backbone") not in Backbone.values:
        raise ValidationError({"detail": f"Projects cannot train backbone {cfg.get('backbone')}."})
    scale = min(2.0, max(0.1, float(cfg.get("input_scale") or 0.5)))
    with transaction.atomic():
        project = create_project(
            user, name=name, description=f"Started from zoo model “{entry.name}”.",
            skeleton={"bodyparts": [{"name": n} for n in entry.bodyparts],
                      "edges": entry.skeleton, "pairs": entry.pairs},
            backbone=cfg["backbone"], input_scale=scale)
        version = adopt(project, user, entry)
    return project, version


def analyse_with(entry: ZooEntry, video: Video, user: User) -> tuple[ModelVersion, Job]:
    """Queue the video's analysis with the entry, adopted into the video's project (once:
    a ready version adopted from it before is reused)."""
    if not has_role(user, video.project_id, PI_ONLY):
        raise PermissionDenied("Only a PI of the project may analyse its videos.")
    version = (ModelVersion.objects.filter(project_id=video.project_id,
                                           kind=VersionKind.TRANSFERRED,
                                           status=VersionStatus.READY,
                                           metrics__source__zoo_entry=entry.pk)
               .exclude(checkpoint="").order_by("-iteration").first())
    if version is None:
        version = adopt(video.project, user, entry)
    job = start_analysis(video, version, user=user)
    return version, job


def source_summary(version: ModelVersion) -> str:
    """'from zoo: NAME' / 'from project P, model N' for a transferred version, else ''."""
    source = (version.metrics or {}).get("source") or {}
    if "zoo_entry" in source:
        return f"from zoo: {source.get('name')}"
    if "project" in source:
        return f"from {source.get('project_name')}, model {source.get('iteration')}"
    return ""

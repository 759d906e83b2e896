"""The dashboard's numbers: one read-only function per panel, composed here.

Nothing in the dashboards app writes to the database or the storage; every function returns
plain `TypedDict`s that the page (through `json_script`) and the API serialize unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.utils import timezone

from dashboards.active_learning import ActiveLearning, active_learning
from dashboards.labeling import Labeling, labeling
from dashboards.model_quality import ModelQuality, model_quality
from dashboards.multi_animal import MultiAnimalQuality, multi_animal_quality
from dashboards.operations import Operations, operations
from projects.models import Project


class Models(ModelQuality, total=False):
    """The model panels; a multi-animal project's also have OKS mAP, animals and identity."""

    # Not required (total=False: NotRequired is not seen through postponed annotations).
    multi_animal: MultiAnimalQuality


class Dashboard(TypedDict):
    project_id: int
    project_name: str
    generated_at: datetime
    bodyparts: list[str]
    models: Models
    labeling: Labeling
    operations: Operations
    active_learning: ActiveLearning


def project_dashboard(project: Project, now: datetime | None = None) -> Dashboard:
    """Every number of the project's dashboard, read in one go."""
    now = now or timezone.now()
    models = Models(**model_quality(project))
    if project.multi_animal:
        models["multi_animal"] = multi_animal_quality(project, models["current_version_id"])
    return {
        "project_id": project.pk,
        "project_name": project.name,
        "generated_at": now,
        "bodyparts": project.bodypart_names(),
        "models": models,
        "labeling": labeling(project),
        "operations": operations(project, now),
        "active_learning": active_learning(project),
    }

"""Read-only numbers of a multi-animal project's models: OKS mAP, animals missed or extra,
identity switches.

The versions' figures come from `ModelVersion.metrics` as the multi-animal evaluation
stores them (`learning.training.multi_runs`: ``test_map_oks``, ``test_recall``,
``test_median_px``, ``test_missed_animals``, ``test_extra_animals``; ``test_rmse_px`` and
``per_bodypart_test_rmse_px`` are the matched animals' part errors, drawn by the panels every
project has). Identity switches compare each video's latest multi-animal analysis with the
animals labeled by track name (`learning.analysis.identity`, cached per analysis and labels).
"""

from __future__ import annotations

from typing import Any, TypedDict

from dashboards.model_quality import finite, n_labels
from learning.analysis.identity import IdentityReport, identity_report
from learning.models import ModelVersion, VersionStatus
from projects.models import Project


class MultiCurvePoint(TypedDict):
    version_id: int
    iteration: int
    n_labels: int | None
    n_test: int | None
    map_oks: float | None
    recall: float | None
    median_px: float | None
    missed_animals: int | None
    extra_animals: int | None
    is_current: bool


class MultiAnimalQuality(TypedDict):
    max_animals: int
    individuals: list[str]
    curve: list[MultiCurvePoint]
    identity: IdentityReport


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def multi_curve(project: Project, current_id: int | None) -> list[MultiCurvePoint]:
    """One point per ready version, by iteration (None where a figure was not stored)."""
    points: list[MultiCurvePoint] = []
    versions = ModelVersion.objects.filter(project=project, status=VersionStatus.READY)
    for v in versions.order_by("iteration"):
        m = v.metrics or {}
        points.append({
            "version_id": v.pk, "iteration": v.iteration, "n_labels": n_labels(v),
            "n_test": _count(m.get("n_test")), "map_oks": finite(m.get("test_map_oks")),
            "recall": finite(m.get("test_recall")), "median_px": finite(m.get("test_median_px")),
            "missed_animals": _count(m.get("test_missed_animals")),
            "extra_animals": _count(m.get("test_extra_animals")),
            "is_current": v.pk == current_id,
        })
    return points


def multi_animal_quality(project: Project, current_id: int | None) -> MultiAnimalQuality:
    """What the several-animals panels of the dashboard show."""
    return {
        "max_animals": project.max_animals,
        "individuals": list(project.individuals or []),
        "curve": multi_curve(project, current_id),
        "identity": identity_report(project),
    }

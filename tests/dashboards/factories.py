"""Model versions with known metrics (no network, no checkpoint) for the dashboard tests."""

from __future__ import annotations

from typing import Any

from learning.models import CurrentModel, ModelVersion, VersionStatus
from projects.models import Project


def version(project: Project, *, n_labels: int | None = None, test_rmse: float | None = None,
            status: str = VersionStatus.READY, current: bool = False,
            **metrics: Any) -> ModelVersion:
    """The project's next model version with the given metrics (and optionally current)."""
    last = project.model_versions.order_by("-iteration").first()
    values: dict[str, Any] = {"test_rmse_px": test_rmse, **metrics}
    if n_labels is not None:
        values["n_labels"] = n_labels
    created = ModelVersion.objects.create(
        project=project, iteration=(last.iteration if last else 0) + 1, status=status,
        metrics=values,
        label_snapshot={"labels": [[i, i, 1] for i in range(n_labels or 0)],
                        "frame_ids": list(range(n_labels or 0)), "test_frame_ids": [],
                        "max_revision_id": 0},
    )
    if current:
        CurrentModel.objects.update_or_create(project=project, defaults={"version": created})
    return created

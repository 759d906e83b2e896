"""Model versions without training: a tiny untrained network saved as a checkpoint."""

from __future__ import annotations

import os
import tempfile

from django.core.files import File

from jobs.models import JobKind
from jobs.progress import create_job
from learning.engine.checkpoint import save_checkpoint
from learning.engine.config import ModelConfig
from learning.engine.network import build_model
from learning.models import ModelVersion, VersionStatus
from projects.models import Project

TINY = ModelConfig(num_keypoints=4, input_scale=0.5, head_channels=8, pretrained=None)


def make_version(project: Project, *, status: str = VersionStatus.READY,
                 test_rmse: float | None = 10.0, checkpoint: bool = True,
                 with_job: bool = False) -> ModelVersion:
    """A version with the next iteration number, metrics and (optionally) a real checkpoint."""
    last = project.model_versions.order_by("-iteration").first()
    job = create_job(project.pk, JobKind.TRAIN) if with_job else None
    version = ModelVersion.objects.create(
        project=project, iteration=(last.iteration if last else 0) + 1, status=status,
        metrics={"test_rmse_px": test_rmse}, model_config=TINY.to_dict(), job=job,
        label_snapshot={"labels": [], "frame_ids": [], "test_frame_ids": [],
                        "max_revision_id": 0},
    )
    if checkpoint:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.pt")
            save_checkpoint(path, build_model(TINY), TINY, project.bodypart_names())
            with open(path, "rb") as fh:
                version.checkpoint.save("model.pt", File(fh))
    return version

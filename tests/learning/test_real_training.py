"""A real training run on synthetic frames: it must learn what an untrained model cannot."""

import pytest

from jobs.models import Job, JobStatus
from learning.engine.config import ModelConfig
from learning.engine.network import build_model
from learning.models import VersionStatus
from learning.tasks import train_model_task
from learning.training.datasets import build_dataset
from learning.training.evaluation import rmse_on
from learning.training.registry import current_version
from learning.training.runs import model_config_for, start_training

BOUND_PX = 10.0
FAST = {"model": {"head_channels": 32},
        "train": {"lr": 3e-3, "augment": {"rotation_deg": 10.0, "scale_range": [0.9, 1.1],
                                          "blur_p": 0.0}}}


@pytest.mark.slow
@pytest.mark.compute
@pytest.mark.django_db
def test_training_learns_the_synthetic_animal(project, labeled_frames,
                                              django_capture_on_commit_callbacks):
    project.input_scale = 0.5
    project.save()
    labeled_frames(project, 40, stride=2)
    with django_capture_on_commit_callbacks(execute=True):
        version = start_training(project, minutes=2.0, overrides=FAST)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.message
    assert current_version(project) == version
    assert Job.objects.get(pk=version.job_id).status == JobStatus.SUCCEEDED
    data = build_dataset(project)
    cfg: ModelConfig = model_config_for(project, 4, {**FAST["model"], "pretrained": None})
    untrained = rmse_on(build_model(cfg).eval(), cfg, data.test)
    trained = version.metrics["test_rmse_px"]
    assert trained < BOUND_PX < untrained, (trained, untrained)
    assert version.metrics["n_test"] >= 1 and version.eval_images and version.checkpoint
    # The single-animal prior was measured on the labels and travels with the model.
    assert version.model_config["animal_radius_px"] > 0
    assert train_model_task.name.startswith("learning.tasks.train_")

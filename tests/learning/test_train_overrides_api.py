"""The train endpoint passes a PI's model settings (`overrides`) on to the training, checked
before anything is queued (the multi-animal system test trains a small model this way)."""

import pytest

from learning.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_overrides_reach_the_training_job(project, labeled_frames, as_user):
    labeled_frames(project, 3)
    overrides = {"model": {"head_channels": 32}, "train": {"lr": 0.005}}
    response = as_user("pi").post(f"/api/projects/{project.pk}/models/train/",
                                  {"minutes": 0.5, "overrides": overrides}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["job"]["params"]["overrides"] == overrides


@pytest.mark.parametrize("overrides", [
    {"model": {"no_such_setting": 1}},
    {"optimizer": {}},
    ["model"],
    {"train": {"temporal_weight": 0.1}},  # a replay experiment, not for project training
])
def test_bad_overrides_are_refused_and_queue_nothing(project, labeled_frames, as_user,
                                                     overrides):
    labeled_frames(project, 3)
    response = as_user("pi").post(f"/api/projects/{project.pk}/models/train/",
                                  {"overrides": overrides}, format="json")
    assert response.status_code == 400, response.content
    assert "overrides" in response.json()
    assert not ModelVersion.objects.filter(project=project).exists()

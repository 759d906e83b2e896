"""The project's input scale: automatic (chosen from the labels at the first training) unless
the PI sets an override; the settings page and the API show which, and the PI can clear it."""

from __future__ import annotations

import pytest

from learning.engine.uncertainty import DEFAULT_WEIGHTS
from learning.models import VersionStatus
from learning.training.runs import effective_input_scale, model_config_for, start_training
from projects.models import Project
from tests.platform_apps.test_settings_page import _settings_post

pytestmark = pytest.mark.django_db
TINY = {"model": {"head_channels": 8, "pretrained": None}, "train": {"max_epochs": 1}}


def test_new_projects_are_automatic(project) -> None:
    assert Project().input_scale is None and project.input_scale is None
    assert effective_input_scale(project) == 0.5  # the default until a model is trained


def test_api_sets_and_clears_the_override(project, as_user) -> None:
    url = f"/api/projects/{project.pk}/"
    body = as_user("pi").get(url).json()
    assert body["input_scale"] is None and body["input_scale_effective"] == 0.5
    assert body["input_scale_status"].startswith("automatic (not chosen yet")
    body = as_user("pi").patch(url, {"input_scale": 0.75}, format="json").json()
    assert body["input_scale"] == 0.75 and body["input_scale_effective"] == 0.75
    assert "set by the PI" in body["input_scale_status"]
    bad = as_user("pi").patch(url, {"input_scale": 9}, format="json")
    assert bad.status_code == 400 and "input_scale" in bad.json()
    project.refresh_from_db()
    assert project.input_scale == 0.75
    Project.objects.filter(pk=project.pk).update(input_scale_auto=0.33, input_scale_reason="r")
    body = as_user("pi").patch(url, {"input_scale": None}, format="json").json()
    assert body["input_scale"] is None and body["input_scale_effective"] == 0.33
    assert body["input_scale_status"] == "automatic (chosen 0.33: r)"
    assert as_user("annotator").patch(url, {"input_scale": 1.0}, format="json"
                                      ).status_code == 403


def test_settings_form_sets_and_clears_the_override(project, users, client) -> None:
    client.force_login(users["pi"])
    url = f"/projects/{project.pk}/settings/"
    html = client.get(url).content.decode()
    assert 'id="input-scale-status">Now: automatic (not chosen yet' in html
    weights = dict(DEFAULT_WEIGHTS)
    response = client.post(url, {**_settings_post(project, **weights), "input_scale": "1.5"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.input_scale == 1.5
    assert "Now: 1.5, set by the PI" in client.get(url).content.decode()
    response = client.post(url, {**_settings_post(project, **weights), "input_scale": ""})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.input_scale is None


def test_first_training_stores_the_automatic_choice(project, labeled_frames,
                                                    django_capture_on_commit_callbacks) -> None:
    labeled_frames(project, 6, stride=1)
    with django_capture_on_commit_callbacks(execute=True):
        version = start_training(project, minutes=0.5, overrides=TINY)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.message
    project.refresh_from_db()
    # 160x120 synthetic frames: the image floor (longest side >= 256 px) sets the scale
    assert project.input_scale_auto == 2.0 and "160 px images" in project.input_scale_reason
    assert version.model_config["input_scale"] == 2.0
    # the stored choice is kept, not re-measured, by later trainings
    Project.objects.filter(pk=project.pk).update(input_scale_auto=0.75)
    project.refresh_from_db()
    assert model_config_for(project, 4, {"pretrained": None}, []).input_scale == 0.75


def test_an_explicit_scale_is_kept(project, labeled_frames) -> None:
    from learning.training.datasets import build_dataset

    Project.objects.filter(pk=project.pk).update(input_scale=0.5)  # an existing project's row
    project.refresh_from_db()
    labeled_frames(project, 4, stride=1)
    cfg = model_config_for(project, 4, {"pretrained": None}, build_dataset(project).train)
    project.refresh_from_db()
    assert cfg.input_scale == 0.5 and project.input_scale_auto is None

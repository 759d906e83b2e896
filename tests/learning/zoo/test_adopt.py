"""Adopting zoo entries and other projects' versions; starting a project from a zoo model;
analysing a video with zero labels; the next training warm-starts from the adopted model."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch
from django.core.files import File

from jobs.models import Job, JobKind, JobStatus
from learning.engine.checkpoint import load_model, save_checkpoint
from learning.engine.config import ModelConfig
from learning.engine.network import build_model
from learning.engine.predict import predict_images
from learning.models import ModelVersion, VersionKind, VersionStatus
from learning.training.registry import clear_cache, current_version, set_current
from learning.training.runs import warm_start_from
from learning.training.triggers import scheduled_retrain
from learning.zoo.entries import publish
from tests.factories import ProjectFactory
from tests.learning.helpers import TINY, make_version
from tests.videofactory import make_video
from videos.ingest import add_video

TARGET = {"bodyparts": [{"name": n} for n in ("Snout", "tail_base", "paw")]}


def _load(version):
    return load_model(version.checkpoint.path)


@pytest.mark.django_db
def test_adopt_with_mapping_copies_matched_heads_and_leaves_others_fresh(entry, users,
                                                                         as_user):
    target = ProjectFactory(skeleton=TARGET)
    from accounts.models import Membership, Role
    Membership.objects.create(user=users["pi"], project=target, role=Role.PI)
    body = {"zoo_entry": entry.pk, "mapping": {"paw": "leftear"}}
    response = as_user("pi").post(f"/api/projects/{target.pk}/models/adopt/", body,
                                  format="json")
    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(pk=response.json()["id"])
    assert version.kind == VersionKind.TRANSFERRED and version.status == VersionStatus.READY
    assert version.parent == entry.source_version
    assert version.metrics["transfer"]["matched"] == {"Snout": "snout", "tail_base": "tailbase",
                                                      "paw": "leftear"}
    assert version.metrics["source"]["zoo_entry"] == entry.pk
    assert current_version(target) == version  # no model before: it becomes current
    src, _ = load_model(entry.checkpoint.path)
    new, cfg = _load(version)
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    a = predict_images(src, cfg, [image], batch_size=1)[0]
    b = predict_images(new, cfg, [image], batch_size=1)[0]
    np.testing.assert_allclose(b[0], a[0], atol=1e-4)  # Snout ← snout
    np.testing.assert_allclose(b[1], a[3], atol=1e-4)  # tail_base ← tailbase
    np.testing.assert_allclose(b[2], a[1], atol=1e-4)  # paw ← leftear

    # An explicit null leaves a part fresh: its head differs from every source row.
    body = {"zoo_entry": entry.pk, "mapping": {"paw": None}}
    response = as_user("pi").post(f"/api/projects/{target.pk}/models/adopt/", body,
                                  format="json")
    assert response.status_code == 201
    second = ModelVersion.objects.get(pk=response.json()["id"])
    assert second.metrics["transfer"]["fresh"] == ["paw"]
    assert current_version(target) == version  # a current model exists: not replaced
    fresh, _ = _load(second)
    assert not any(torch.equal(fresh.heatmap.weight[2], src.heatmap.weight[k])
                   for k in range(4))


@pytest.mark.django_db
def test_adopt_refuses_bad_mappings_and_foreign_sources(entry, source, project, users, as_user):
    url = f"/api/projects/{project.pk}/models/adopt/"
    before = ModelVersion.objects.count()
    bad = as_user("pi").post(url, {"zoo_entry": entry.pk, "mapping": {"snout": "nose"}},
                             format="json")
    assert bad.status_code == 400 and "mapping" in bad.json()
    # Another project's version: only for its members.
    foreign = as_user("pi").post(url, {"version": source[2].pk}, format="json")
    assert foreign.status_code == 404
    assert as_user("reviewer").post(url, {"zoo_entry": entry.pk}, format="json"
                                    ).status_code == 403
    assert ModelVersion.objects.count() == before


@pytest.mark.django_db
def test_start_project_then_analyse_a_video_with_zero_labels(
        entry, users, as_user, tmp_path, django_capture_on_commit_callbacks):
    clear_cache()
    client = as_user("pi")
    response = client.post(f"/api/zoo/{entry.pk}/start-project/", {"name": "New mice"},
                           format="json")
    assert response.status_code == 201, response.content
    from projects.models import Project
    project = Project.objects.get(pk=response.json()["project"])
    assert project.bodypart_names() == entry.bodyparts
    assert sorted(map(sorted, project.edges.values_list("source__name", "target__name"))) == \
        sorted(map(sorted, entry.skeleton))
    version = current_version(project)
    assert version is not None and version.kind == VersionKind.TRANSFERRED
    assert not project.labels.exists()
    clip = make_video(tmp_path, n_frames=12)
    # The new video of a project with a model is scored in a worker (eager here): its frames
    # are queued, chosen by the adopted model, before any label.
    with django_capture_on_commit_callbacks(execute=True):
        video = add_video(project, clip.path, name="clip.mp4", register=True)
    score = Job.objects.get(project=project, kind=JobKind.SCORE)
    assert score.status == JobStatus.SUCCEEDED, score.error
    queued = project.queue_entries.filter(model_version_id=version.pk)
    assert queued.exists(), score.result
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/zoo/{entry.pk}/analyse/",
                               {"project": project.pk, "video": video.pk}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == JobKind.ANALYZE and job.status == JobStatus.SUCCEEDED, job.error
    assert job.params["version_id"] == version.pk  # the adopted model, not a second copy
    assert project.model_versions.count() == 1
    # Predictions for frames work with zero labels.
    frame = queued.first().frame
    pred = client.get(f"/api/projects/{project.pk}/frames/{frame.pk}/prediction/")
    assert pred.status_code == 200
    assert len(pred.json()["points"]) == len(entry.bodyparts), pred.json()
    # Someone who is not PI of the project cannot analyse in it.
    assert as_user("annotator").post(f"/api/zoo/{entry.pk}/analyse/",
                                     {"project": project.pk, "video": video.pk},
                                     format="json").status_code == 404


@pytest.mark.django_db
def test_a_pending_adopted_version_is_the_warm_start_until_trained_from(project):
    old = make_version(project)
    set_current(old)
    cfg = ModelConfig.from_dict({**TINY.to_dict(), "pretrained": None})
    assert warm_start_from(project, cfg) == old
    adopted = make_version(project)
    adopted.kind = VersionKind.TRANSFERRED
    adopted.save()
    assert warm_start_from(project, cfg) == adopted
    child = make_version(project)
    child.parent = adopted
    child.save()
    set_current(child)
    assert warm_start_from(project, cfg) == child


def _default_resnet_version(project):
    """A zoo source with the network scheduled trainings build (head_channels 128)."""
    cfg = ModelConfig(num_keypoints=4, input_scale=0.5, pretrained=None)
    version = make_version(project, checkpoint=False)
    version.model_config = cfg.to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        save_checkpoint(path, build_model(cfg), cfg, project.bodypart_names())
        with open(path, "rb") as fh:
            version.checkpoint.save("model.pt", File(fh))
    return version


@pytest.mark.slow
@pytest.mark.django_db
def test_scheduled_training_warm_starts_from_the_adopted_model(
        source, project, users, labeled_frames, settings, django_capture_on_commit_callbacks):
    settings.TRAIN_DEFAULT_MINUTES = 0.05
    src_project, pi, _ = source
    entry = publish(_default_resnet_version(src_project), pi, name="resnet mice")
    labeled_frames(project, 6)
    from learning.zoo.adopt import adopt
    adopted = adopt(project, users["pi"], entry)
    assert current_version(project) == adopted
    with django_capture_on_commit_callbacks(execute=True):
        version = scheduled_retrain(project.pk)
    assert version is not None
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.message
    assert version.parent == adopted and version.trigger == "schedule"

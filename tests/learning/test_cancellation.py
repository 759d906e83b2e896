import pytest

from jobs.models import Job, JobStatus
from learning.models import VersionStatus
from learning.tasks import train_model_task
from learning.training import runs as training
from learning.training.registry import current_version

pytestmark = pytest.mark.django_db

TINY = {"model": {"head_channels": 8, "input_scale": 0.25, "pretrained": None},
        "train": {"max_epochs": 50}}


def test_cancel_during_training(project, labeled_frames, monkeypatch):
    labeled_frames(project, 3)
    version = training.start_training(project, minutes=1.0, overrides=TINY)
    answers = iter([False] + [True] * 1000)  # not before start; then at the first check
    monkeypatch.setattr(training, "cancel_requested", lambda job_id: next(answers))
    monkeypatch.setattr(training, "HEARTBEAT_S", 0.0)
    train_model_task(version.pk, version.job_id)
    version.refresh_from_db()
    assert version.status == VersionStatus.CANCELLED
    assert Job.objects.get(pk=version.job_id).status == JobStatus.CANCELLED
    assert current_version(project) is None and not version.checkpoint


def test_cancel_requested_before_the_worker_starts(project, labeled_frames):
    labeled_frames(project, 3)
    version = training.start_training(project, overrides=TINY)
    Job.objects.filter(pk=version.job_id).update(cancel_requested=True)
    train_model_task(version.pk, version.job_id)
    version.refresh_from_db()
    assert version.status == VersionStatus.CANCELLED


def test_running_version_gets_the_cancel_flag(project, labeled_frames):
    labeled_frames(project, 3)
    version = training.start_training(project, overrides=TINY)
    version.status = VersionStatus.TRAINING
    version.save()
    training.cancel_training(version)
    assert Job.objects.get(pk=version.job_id).cancel_requested


def test_a_failing_training_marks_the_version_failed(project, labeled_frames, monkeypatch):
    labeled_frames(project, 3)
    version = training.start_training(project, overrides=TINY)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training, "train", broken)
    with pytest.raises(RuntimeError):
        train_model_task(version.pk, version.job_id)
    version.refresh_from_db()
    assert version.status == VersionStatus.FAILED and "out of memory" in version.message
    assert Job.objects.get(pk=version.job_id).status == JobStatus.FAILED
    assert current_version(project) is None


def test_quick_training_end_to_end(project, labeled_frames):
    labeled_frames(project, 6)
    version = training.start_training(project, minutes=0.2, overrides={
        **TINY, "train": {"max_epochs": 2}})
    train_model_task(version.pk, version.job_id)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY and current_version(project) == version
    assert version.metrics["n_test"] >= 1 and version.label_snapshot["frame_ids"]
    assert len(version.eval_images) == version.metrics["n_test"] and version.device == "cpu"
    rows = version.metrics["per_frame_test"]
    assert len(rows) == version.metrics["n_test"]
    assert all(len(r["likelihoods"]) == 4 for r in rows)
    shown = sorted((r for r in rows if r["image"] is not None), key=lambda r: r["image"])
    errors = [r["rmse_px"] for r in shown]
    assert errors == sorted(errors, reverse=True)  # the images show the worst frames first
    job = Job.objects.get(pk=version.job_id)
    assert job.status == JobStatus.SUCCEEDED and job.result["version_id"] == version.pk
    second = training.start_training(project, minutes=0.2, overrides={
        **TINY, "train": {"max_epochs": 1}})
    train_model_task(second.pk, second.job_id)
    second.refresh_from_db()
    assert second.parent == version  # warm start from the current model
    assert second.metrics["current_test_rmse_px"] is not None

"""The loop end to end on a synthetic video: label → train → promote → score → queue refilled."""

import pytest
from django.db.models.signals import post_save

from annotation.models import EntryStatus, QueueEntry, QueueReason
from jobs.models import Job, JobKind, JobStatus
from learning.models import CurrentModel, VersionStatus
from learning.selection.scoring import on_current_model_saved
from learning.training.registry import clear_cache, current_version
from learning.training.runs import start_training
from tests.videofactory import make_video
from videos.ingest import add_video
from videos.models import FrameOrigin

FAST = {"model": {"head_channels": 16},
        "train": {"augment": {"rotation_deg": 10.0, "scale_range": [0.9, 1.1], "blur_p": 0.0}}}


@pytest.fixture
def scoring_hook():
    """What learning/apps.py ready() connects: scoring after a version becomes current."""
    post_save.connect(on_current_model_saved, sender=CurrentModel, dispatch_uid="test.loop")
    clear_cache()
    yield
    post_save.disconnect(sender=CurrentModel, dispatch_uid="test.loop")
    clear_cache()


@pytest.mark.slow
@pytest.mark.django_db
def test_training_a_model_refills_the_queue_with_new_scored_frames(
        project, labeled_frames, tmp_path, scoring_hook, django_capture_on_commit_callbacks):
    project.queue_size, project.selection_strategy = 8, "hybrid"
    project.save()
    labeled = {f.pk for f in labeled_frames(project, 12)}
    clip = make_video(tmp_path, n_frames=90)
    add_video(project, clip.path, name="clip.mp4", register=True)
    with django_capture_on_commit_callbacks(execute=True):
        version = start_training(project, minutes=0.15, overrides=FAST)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.message
    assert current_version(project) == version
    job = Job.objects.get(project=project, kind=JobKind.SCORE)
    assert job.status == JobStatus.SUCCEEDED, job.error
    entries = list(QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN)
                   .select_related("frame"))
    assert len(entries) == project.queue_size
    assert len({e.frame_id for e in entries}) == len(entries)
    for entry in entries:
        assert entry.frame_id not in labeled and entry.frame.origin == FrameOrigin.SELECTED
        assert entry.model_version_id == version.pk
        assert entry.reason in (QueueReason.UNCERTAINTY, QueueReason.TEMPORAL,
                                QueueReason.SKELETON, QueueReason.DIVERSITY)
        assert {"score", "confidence", "temporal", "coverage"} <= set(entry.components)

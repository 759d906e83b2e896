"""Scoring candidate frames with the current model and refilling the queue."""

import weakref

import numpy as np
import pytest
import torch
from django.db.models.signals import post_save

from annotation.models import EntryStatus, QueueEntry, QueueReason
from annotation.queue import lease_next
from jobs.models import Job, JobKind, JobStatus
from learning.engine.checkpoint import load_model
from learning.engine.data import load_image
from learning.engine.embed import StreamScorer, score_stream
from learning.engine.predict import predict_batch
from learning.models import CurrentModel
from learning.selection.scoring import (
    candidate_indices,
    on_current_model_saved,
    predicted_keypoints,
    score_project,
    split_budget,
    spread,
    video_stream,
)
from learning.training.datasets import local_image_path
from learning.training.registry import clear_cache, set_current
from tests.learning.helpers import make_version
from tests.videofactory import make_video
from videos.ingest import add_video
from videos.models import Frame, FrameOrigin


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def video(project, tmp_path):
    clip = make_video(tmp_path, n_frames=60)
    return add_video(project, clip.path, name="clip.mp4", register=True)


def current(project):
    version = make_version(project)
    set_current(version)
    return version


def test_candidate_indices_spread_and_skip_existing():
    picked = candidate_indices(1000, existing=[0, 1, 2], max_candidates=10)
    assert len(picked) == 10 and len(set(picked)) == 10
    assert min(picked) >= 3 and max(picked) > 900
    assert candidate_indices(5, existing=[2], max_candidates=10) == [0, 1, 3, 4]


def test_split_budget_is_proportional_and_exact():
    assert split_budget([2330, 100, 0], 300) == [288, 12, 0]
    assert sum(split_budget([7, 11, 13], 10)) == 10
    assert split_budget([5, 3], 300) == [5, 3]  # under budget: everything
    assert split_budget([1, 1, 1], 2) in ([1, 1, 0], [1, 0, 1], [0, 1, 1])


def test_spread_offset_moves_the_grid_between_rounds():
    free = np.arange(1000)
    first, second = spread(free, 10, 0.0), spread(free, 10, 0.99)
    assert first[0] == 0 and second[0] == 99
    assert len(set(first) | set(second)) == 20  # the next round looks at other frames
    assert spread(free, 10, 0.99)[-1] == 999


@pytest.mark.django_db
def test_the_candidate_budget_is_shared_by_every_video(project, video, tmp_path, labeled_frames):
    clip = make_video(tmp_path, "b.mp4", n_frames=30, seed=5)
    other = add_video(project, clip.path, name="b.mp4", register=True)
    labeled_frames(project, 4)
    version = current(project)
    seen = []

    def counted(video_obj, indices):
        seen.append((video_obj.pk, len(indices)))
        return video_stream(video_obj, indices)

    import learning.selection.scoring as scoring

    real = scoring.video_stream
    scoring.video_stream = counted
    try:
        summary = score_project(project.pk, version.pk, max_candidates=18)
    finally:
        scoring.video_stream = real
    per_video = dict(seen)
    assert summary["candidates"] <= 18
    assert per_video[video.pk] > per_video[other.pk] > 0  # 60 vs 30 frames: 2:1


@pytest.mark.django_db
def test_labeled_frames_are_embedded_within_the_budget(project, video, labeled_frames,
                                                       monkeypatch):
    import learning.selection.scoring as scoring

    labeled_frames(project, 12)
    version = current(project)
    embedded = []
    real = scoring.forward_with_embeddings

    def counted(model, cfg, images):
        embedded.append(len(images))
        return real(model, cfg, images)

    monkeypatch.setattr(scoring, "forward_with_embeddings", counted)
    summary = score_project(project.pk, version.pk, max_candidates=8)
    assert sum(embedded) == 4  # half the budget of 8, spread over the 12 labeled frames
    assert summary["candidates"] <= 8


@pytest.mark.django_db
def test_scoring_streams_with_bounded_memory(project, video):
    version = current(project)
    model, cfg = load_model(version.checkpoint.path)
    alive = {"now": 0, "peak": 0}

    def counted(stream):
        for key, image in stream:
            alive["now"] += 1
            alive["peak"] = max(alive["peak"], alive["now"])
            weakref.finalize(image, lambda: alive.__setitem__("now", alive["now"] - 1))
            yield key, image

    scorer = StreamScorer(model, cfg, extras_fraction=0.1)
    scored = score_stream(scorer, counted(video_stream(video, list(range(60)))), batch_size=8)
    assert len(scored.keys) == 60 and scored.embeddings.shape[0] == 60
    assert scorer.max_held == 8
    assert alive["peak"] <= 8 + 1  # one batch, plus the frame being decoded
    assert np.isfinite(scored.components["tta"]).sum() < 60  # costly scores only for the top
    assert scored.components["confidence"].shape == (60,)


@pytest.mark.django_db
def test_score_project_refills_the_queue_with_scored_new_frames(project, video, labeled_frames):
    project.queue_size, project.selection_strategy = 6, "hybrid"
    project.save()
    labeled = labeled_frames(project, 4)
    version = current(project)
    summary = score_project(project.pk, version.pk, max_candidates=40)
    assert summary["enqueued"] == 6 and summary["created_frames"] == 6
    entries = list(QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN))
    assert len(entries) == 6 and len({e.frame_id for e in entries}) == 6
    for entry in entries:
        assert entry.model_version_id == version.pk
        assert entry.reason in QueueReason.values
        assert {"score", "confidence", "entropy", "coverage"} <= set(entry.components)
        assert entry.priority == pytest.approx(entry.components["score"])
        assert entry.frame.origin == FrameOrigin.SELECTED and entry.frame.image
        assert entry.frame_id not in {f.pk for f in labeled}
    again = score_project(project.pk, version.pk, max_candidates=40)
    assert again["skipped"] == "queue is full"
    assert QueueEntry.objects.filter(project=project).count() == 6


@pytest.mark.django_db
def test_queued_frames_keep_the_selecting_models_predicted_keypoints(project, video):
    project.queue_size = 4
    project.save()
    version = current(project)
    score_project(project.pk, version.pk, max_candidates=20)
    model, cfg = load_model(version.checkpoint.path)
    entries = list(QueueEntry.objects.filter(project=project).select_related("frame"))
    assert len(entries) == 4
    images = [load_image(local_image_path(e.frame)) for e in entries]
    poses, _ = predict_batch(model, cfg, images, torch.device("cpu"))
    for entry, pose in zip(entries, poses, strict=True):
        stored = entry.components["keypoints"]
        assert len(stored) == project.bodyparts.count() == cfg.num_keypoints
        assert all(len(point) == 3 for point in stored)
        # Rounded to 0.1 px and 0.001, in original image pixels, body-part order.
        assert stored == [[round(v, 1), round(y, 1), round(p, 3)] for v, y, p in stored]
        assert np.allclose(np.array(stored), pose, atol=0.2)


def test_predicted_keypoints_are_compact_and_json_safe():
    pose = np.array([[12.345, 6.789, 0.98765], [np.nan, np.nan, 0.0]], dtype=np.float32)
    assert predicted_keypoints(pose) == [[12.3, 6.8, 0.988], None]


@pytest.mark.django_db
def test_one_model_adds_at_most_one_selection_batch(project, video):
    project.queue_size, project.selection_batch_size = 10, 3
    project.save()
    version = current(project)
    summary = score_project(project.pk, version.pk, max_candidates=30)
    assert summary["enqueued"] == 3
    assert QueueEntry.objects.filter(project=project, model_version_id=version.pk).count() == 3


@pytest.mark.parametrize("strategy", ["random", "kmeans", "uncertainty"])
@pytest.mark.django_db
def test_every_strategy_queues_distinct_frames(project, video, strategy):
    project.queue_size, project.selection_strategy = 5, strategy
    project.save()
    version = current(project)
    score_project(project.pk, version.pk, max_candidates=30)
    frames = QueueEntry.objects.filter(project=project).values_list("frame__frame_index",
                                                                    flat=True)
    assert len(frames) == len(set(frames)) == 5
    assert Frame.objects.filter(project=project, origin=FrameOrigin.SELECTED).count() == 5


@pytest.mark.django_db
def test_a_new_model_reranks_stale_open_entries_but_not_leased_ones(project, video, users):
    project.queue_size = 4
    project.save()
    old = current(project)
    score_project(project.pk, old.pk, max_candidates=20)
    leased = lease_next(project, users["annotator"])
    new = current(project)
    summary = score_project(project.pk, new.pk, max_candidates=20)
    assert summary["reranked"] == 3
    entries = QueueEntry.objects.filter(project=project)
    assert entries.count() == 4  # re-ranked in place, never duplicated
    assert set(entries.exclude(pk=leased.pk).values_list("model_version_id", flat=True)) == {
        new.pk}
    assert entries.get(pk=leased.pk).model_version_id == old.pk
    # Re-ranked entries carry the new model's prediction with its model version.
    assert all(len(e.components["keypoints"]) == project.bodyparts.count()
               for e in entries.exclude(pk=leased.pk))


@pytest.mark.django_db
def test_an_old_version_does_not_score(project, video):
    old = current(project)
    current(project)
    assert score_project(project.pk, old.pk)["skipped"] == "a newer model is current"
    assert not QueueEntry.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_a_version_becoming_current_queues_a_score_job(project, video,
                                                       django_capture_on_commit_callbacks):
    project.queue_size = 3
    project.save()
    post_save.connect(on_current_model_saved, sender=CurrentModel, dispatch_uid="test.score")
    try:
        version = make_version(project)
        with django_capture_on_commit_callbacks(execute=True):
            set_current(version)
    finally:
        post_save.disconnect(sender=CurrentModel, dispatch_uid="test.score")
    job = Job.objects.get(project=project, kind=JobKind.SCORE)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["enqueued"] == 3
    assert QueueEntry.objects.filter(project=project, model_version_id=version.pk).count() == 3

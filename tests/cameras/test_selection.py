"""3D-consistency active learning on the synthetic three-camera rig: a view corrupted at some
frames is queued with the "views_3d" reason; clean frames and single-camera projects are not."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import QueueEntry, QueueReason
from cameras import selection
from jobs.models import Job, JobKind
from learning.geometry import synthetic
from learning.selection import scoring, views3d
from learning.training.registry import set_current
from tests.cameras.conftest import N_FRAMES
from tests.learning.helpers import make_version

pytestmark = pytest.mark.django_db

CORRUPT = {7: 1, 21: 2}  # session frame → camera index whose view is off by ~25 px


def _predictor(rig_cameras, truth, session, corrupt=CORRUPT, noise_px=0.5):
    """Fake model: the truth rendered into each view with some noise, one view corrupted at
    the frames of `corrupt`; views are found by their video."""
    pts = synthetic.render_points(rig_cameras, truth, noise_px=noise_px, seed=4)
    rng = np.random.default_rng(5)
    for t, c in corrupt.items():
        pts[c, t] += rng.normal(0, 25, pts[c, t].shape)
    index = {v.video_id: (rig_cameras.index(next(c for c in rig_cameras if c.name == v.camera)),
                          v.offset) for v in session.views.all()}
    asked = []

    def predict(video, indices):
        c, offset = index[video.pk]
        asked.append((video.pk, list(indices)))
        rows = np.asarray(indices) - offset
        return np.concatenate([pts[c, rows], np.ones((len(rows), pts.shape[2], 1))], axis=-1)

    predict.asked = asked
    return predict


def test_a_corrupted_view_is_queued_for_that_view_with_the_reason(
        project, calibrated, session, rig_cameras, truth):
    version = make_version(project, checkpoint=False)
    predict = _predictor(rig_cameras, truth, session)
    summary = selection.score_views_3d(project.pk, version.pk, predict=predict,
                                       max_candidates=3 * N_FRAMES)
    assert summary["scored_frames"] == N_FRAMES and summary["skipped"] == ""
    entries = list(QueueEntry.objects.filter(project=project).select_related("frame"))
    views = {v.video_id: v for v in session.views.all()}
    got = {(views[e.frame.video_id].camera, e.frame.frame_index) for e in entries}
    names = [c.name for c in rig_cameras]
    assert got == {(names[c], t) for t, c in CORRUPT.items()}
    for entry in entries:
        assert entry.reason == QueueReason.VIEWS_3D
        assert entry.components["camera"] == views[entry.frame.video_id].camera
        assert entry.components["view_error_px"] >= views3d.MIN_ERROR_PX
        assert entry.components["session"] == "day1"
        assert len(entry.components["keypoints"]) == truth.shape[1]
        assert entry.frame.extraction_strategy == "al-views3d"
        assert entry.frame.image  # materialised from the video
    # The second run finds those frames taken and clean frames below the threshold.
    again = selection.score_views_3d(project.pk, version.pk, predict=predict,
                                     max_candidates=3 * N_FRAMES)
    assert again["enqueued"] == 0


def test_clean_sessions_queue_nothing(project, calibrated, session, rig_cameras, truth):
    version = make_version(project, checkpoint=False)
    predict = _predictor(rig_cameras, truth, session, corrupt={})
    summary = selection.score_views_3d(project.pk, version.pk, predict=predict)
    assert summary["enqueued"] == 0 and not QueueEntry.objects.exists()


def test_offsets_map_session_frames_to_video_frames(project, calibrated, session, rig_cameras,
                                                    truth):
    view = session.views.order_by("id")[1]
    view.offset = 2
    view.save()
    session.frame_count = N_FRAMES - 2
    session.save()
    version = make_version(project, checkpoint=False)
    predict = _predictor(rig_cameras, truth[:N_FRAMES - 2], session, corrupt={5: 1})
    selection.score_views_3d(project.pk, version.pk, predict=predict,
                             max_candidates=3 * N_FRAMES)
    entry = QueueEntry.objects.get()
    assert entry.frame.video_id == view.video_id and entry.frame.frame_index == 5 + 2
    assert entry.components["session_frame"] == 5


def test_chosen_frames_are_spread_in_time():
    frames = np.arange(10)
    scores = np.array([np.nan, 30, 29, 28, 2, 3, 20, 4, np.nan, 6], dtype=float)
    assert views3d.pick_frames(frames, scores, 3, min_gap=3) == [1, 6, 9]
    px = np.array([20.0, 30.0, 28.0])
    assert views3d.disagreeing_views(np.array([2.0, 30.0, np.nan]), px) == [1]
    assert views3d.disagreeing_views(np.array([20.0, 30.0, 3.0]), px) == [1]
    assert views3d.disagreeing_views(np.array([28.0, 30.0, 3.0]), px) == [1, 0]
    assert views3d.disagreeing_views(np.array([-1.0, 0.0, np.nan]), px) == []  # none to blame
    # ranked by blame, but a view must also be MIN_ERROR_PX off in pixels
    assert views3d.disagreeing_views(np.array([28.0, 30.0, 3.0]), np.array([9, 3, 9.0])) \
        == [0]


def test_a_new_current_model_queues_3d_scoring_only_with_a_calibrated_session(
        project, rig, session, calibrated, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(selection, "dispatch_on_commit", sent.append)
    monkeypatch.setattr(scoring, "queue_scoring", lambda *a: None)
    version = make_version(project, checkpoint=False)
    with django_capture_on_commit_callbacks(execute=True):
        set_current(version)
    job = Job.objects.get(kind=JobKind.SCORE_3D)
    assert sent == [job] and job.params == {"version_id": version.pk}


def test_single_camera_projects_get_no_3d_job(project, monkeypatch,
                                              django_capture_on_commit_callbacks):
    monkeypatch.setattr(scoring, "queue_scoring", lambda *a: None)
    version = make_version(project, checkpoint=False)
    with django_capture_on_commit_callbacks(execute=True):
        set_current(version)
    assert not Job.objects.filter(kind=JobKind.SCORE_3D).exists()


def test_the_score_3d_job_runs_the_current_model_in_the_worker(
        project, calibrated, session, settings, django_capture_on_commit_callbacks,
        monkeypatch):
    """The task through Celery (eager here) with a real, tiny model: the job succeeds and
    reports what it scored; it goes to the inference queue like the other scoring."""
    from jobs.dispatch import queue_of
    from jobs.models import JobStatus

    settings.SCORING_MAX_CANDIDATES = 3 * 6
    monkeypatch.setattr(scoring, "queue_scoring", lambda *a: None)
    version = make_version(project)
    with django_capture_on_commit_callbacks(execute=True):
        set_current(version)
    job = Job.objects.get(kind=JobKind.SCORE_3D)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["scored_frames"] == 6 and job.result["sessions"] == 1
    assert queue_of(JobKind.SCORE_3D) == "inference"

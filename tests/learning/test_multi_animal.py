"""A two-animal project through the loop: SLEAP import → train → predict → analyse (tracks,
identity fix) → score; on a synthetic video whose animals and identities are known."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio
from django.core.management import CommandError, call_command
from django.db.models.signals import post_save

from accounts.models import Membership, Role
from annotation.instances import instances_of
from annotation.models import EntryStatus, Label, QueueEntry
from jobs.models import Job, JobKind, JobStatus
from learning.analysis import videos as analysis
from learning.models import CurrentModel, TrackSwap, VersionStatus
from learning.selection.multi_scoring import MULTI_REASONS
from learning.selection.scoring import on_current_model_saved
from learning.training.registry import clear_cache, current_version
from learning.training.runs import start_training
from projects.models import Project
from videos.synthetic_multi import generate_video

STORED_PATH = "/elsewhere/lab-machine/pair.mp4"  # another machine's path, as SLEAP files have
LABELED_EVERY = 2
FAST = {"model": {"head_channels": 32, "backbone": "resnet18", "pretrained": None,
                  "centroid_share": 0.5, "peak_threshold": 0.05, "centroid_scale": 0.5,
                  "centroid_sigma_px": 4.0}}


@pytest.fixture(scope="module")
def pair_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    return generate_video(folder / "pair.mp4", n_animals=2, n_frames=60, width=160, height=160)


def write_slp(clip, path: Path) -> Path:
    """User instances with tracks A and B on every LABELED_EVERY-th frame."""
    skeleton = sio.Skeleton(list(clip.bodyparts), edges=[list(e) for e in clip.skeleton])
    video = sio.Video(filename=STORED_PATH, open_backend=False)
    tracks = [sio.Track("A"), sio.Track("B")]
    frames = []
    for f in range(0, clip.keypoints.shape[0], LABELED_EVERY):
        instances = [sio.Instance.from_numpy(clip.keypoints[f, n], skeleton=skeleton,
                                             track=tracks[n])
                     for n in range(2) if np.isfinite(clip.keypoints[f, n]).any()]
        frames.append(sio.LabeledFrame(video=video, frame_idx=f, instances=instances))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton],
                        tracks=tracks)
    sio.save_slp(labels, str(path), verbose=False)
    return path


def import_pair(clip, tmp_path, *extra: str) -> dict:
    out = StringIO()
    call_command("import_slp", str(write_slp(clip, tmp_path / "pair.slp")), "--project", "pair",
                 "--video-dir", str(clip.path.parent), *extra, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_import_slp_makes_a_two_animal_project_with_tracks(pair_clip, tmp_path):
    summary = import_pair(pair_clip, tmp_path)
    project = Project.objects.get(name="pair")
    n_labeled = len(range(0, 60, LABELED_EVERY))
    assert summary["project_created"] and summary["max_animals"] == 2 == project.max_animals
    assert summary["labels_written"] == n_labeled == Label.objects.filter(project=project).count()
    assert project.bodypart_names() == list(pair_clip.bodyparts)
    label = Label.objects.get(project=project, frame__frame_index=30)
    instances = instances_of(label.points)
    assert [i["track"] for i in instances] == ["A", "B"]
    first = next(p for p in instances[1]["points"] if p["state"] == "visible")
    k = [bp.pk for bp in project.bodyparts.order_by("order")].index(first["bodypart"])
    assert (first["x"], first["y"]) == pytest.approx(tuple(pair_clip.keypoints[30, 1, k]))
    again = import_pair(pair_clip, tmp_path)
    assert (again["labels_written"], again["labels_unchanged"]) == (0, n_labeled)


@pytest.mark.django_db
def test_import_slp_without_the_video_says_where_it_looked(pair_clip, tmp_path):
    slp = write_slp(pair_clip, tmp_path / "pair.slp")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CommandError, match="pair.mp4"):
        call_command("import_slp", str(slp), "--project", "pair", "--video-dir", str(empty),
                     stdout=StringIO())
    assert not Project.objects.filter(name="pair").exists()


@pytest.fixture
def scoring_hook():
    post_save.connect(on_current_model_saved, sender=CurrentModel, dispatch_uid="test.multi")
    clear_cache()
    yield
    post_save.disconnect(sender=CurrentModel, dispatch_uid="test.multi")
    clear_cache()


def h5_of(manifest) -> Path:
    from django.core.files.storage import default_storage

    return Path(default_storage.path(f"{manifest['folder']}/{manifest['pose_table']}"))


@pytest.mark.slow
@pytest.mark.django_db
def test_two_animal_loop_trains_predicts_analyses_tracks_and_scores(
        pair_clip, tmp_path, users, as_user, scoring_hook, django_capture_on_commit_callbacks):
    import_pair(pair_clip, tmp_path)
    project = Project.objects.get(name="pair")
    Membership.objects.create(user=users["pi"], project=project, role=Role.PI)
    Membership.objects.create(user=users["annotator"], project=project, role=Role.ANNOTATOR)
    project.queue_size = project.selection_batch_size = 6
    project.save()
    with django_capture_on_commit_callbacks(execute=True):
        version = start_training(project, minutes=0.8, overrides=FAST)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.message
    assert current_version(project) == version
    metrics = version.metrics
    assert {"test_map_oks", "test_rmse_px", "test_recall", "per_bodypart_test_rmse_px",
            "test_missed_animals"} <= set(metrics)
    assert version.model_config["design"] == "topdown"
    assert set(metrics["per_bodypart_test_rmse_px"]) == set(pair_clip.bodyparts)

    # Predictions pre-fill every animal: the API answers instances.
    frame = project.frames.get(frame_index=30)
    client = as_user("pi")
    answer = client.get(f"/api/projects/{project.pk}/frames/{frame.pk}/prediction/").json()
    assert answer["points"] == [] and 1 <= len(answer["instances"]) <= 2
    assert all(len(i["points"]) == len(pair_clip.bodyparts) for i in answer["instances"])

    # Scoring ran after the promotion and queued frames with multi-animal reasons.
    job = Job.objects.get(project=project, kind=JobKind.SCORE)
    assert job.status == JobStatus.SUCCEEDED, job.error
    entries = QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN)
    assert 0 < entries.count() <= project.queue_size
    for entry in entries:
        assert entry.reason in MULTI_REASONS
        assert {"score", "count", "confidence", "touching", "assignment", "coverage",
                "animals"} <= set(entry.components)

    # Whole-video analysis: tracks in a multi-animal table that movement reads.
    video = project.videos.get()
    with django_capture_on_commit_callbacks(execute=True):
        analysis_job = analysis.start_analysis(video, version, {"tracking": True})
    analysis_job.refresh_from_db()
    assert analysis_job.status == JobStatus.SUCCEEDED, analysis_job.error
    manifest = analysis.list_analyses(video)[0]
    assert 1 <= len(manifest["individuals"]) <= 2
    assert manifest["frames"] == 60 and manifest["track_edits"] == 0
    assert any(f.endswith(".slp") for f in manifest["files"])
    from movement.io import load_poses

    ds = load_poses.from_dlc_file(h5_of(manifest))
    assert list(ds.coords["individuals"].values) == manifest["individuals"]
    assert ds.sizes["time"] == 60

    # The PI fixes an identity swap from frame 20 on; the tables are written again.
    if len(manifest["individuals"]) == 2:
        a, b = manifest["individuals"]
        before = ds.position.values.copy()
        url = (f"/api/projects/{project.pk}/videos/{video.pk}/analyses/{manifest['job_id']}"
               "/swap-tracks/")
        bad = client.post(url, {"frame": 20, "track_a": a, "track_b": "nobody"}, format="json")
        assert bad.status_code == 400 and TrackSwap.objects.count() == 0
        response = client.post(url, {"frame": 20, "track_a": a, "track_b": b}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["track_edits"] == 1
        after = load_poses.from_dlc_file(h5_of(analysis.list_analyses(video)[0])).position.values
        np.testing.assert_array_equal(after[:20], before[:20])
        np.testing.assert_array_equal(after[20:, :, :, 0], before[20:, :, :, 1])
        np.testing.assert_array_equal(after[20:, :, :, 1], before[20:, :, :, 0])
        # A second fix swaps them back from frame 40: both fixes hold, each applied once.
        second = client.post(url, {"frame": 40, "track_a": b, "track_b": a}, format="json")
        assert second.status_code == 200 and second.json()["track_edits"] == 2
        twice = load_poses.from_dlc_file(h5_of(analysis.list_analyses(video)[0])).position.values
        np.testing.assert_array_equal(twice[:40], after[:40])
        np.testing.assert_array_equal(twice[40:], before[40:])
        annotator = as_user("annotator").post(url, {"frame": 3, "track_a": a, "track_b": b},
                                              format="json")
        assert annotator.status_code == 403

    # The trained model downloads as a bundle another machine can load; fast models and the
    # zoo say plainly that they do not take multi-animal models yet.
    import io
    import zipfile

    response = client.post(f"/api/projects/{project.pk}/models/{version.pk}/export/")
    assert response.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    from learning.exchange.model_export import META_NAME

    assert {"model.pt", META_NAME, "README.md"} <= set(bundle.namelist())
    meta = json.loads(bundle.read(META_NAME))
    assert meta["max_animals"] == 2 and meta["bodyparts"] == list(pair_clip.bodyparts)
    from learning.engine.multi.checkpoint import load_predictor

    (tmp_path / "bundle.pt").write_bytes(bundle.read("model.pt"))
    assert load_predictor(str(tmp_path / "bundle.pt")).predict(
        [np.zeros((160, 160, 3), np.uint8)])[0].shape[1:] == (len(pair_clip.bodyparts), 3)
    from django.core.exceptions import ValidationError

    from learning.training.distill import start_distillation
    from learning.zoo.entries import publish

    with pytest.raises(ValidationError, match="multi-animal"):
        start_distillation(version)
    with pytest.raises(ValidationError, match="Multi-animal"):
        publish(version, None, name="pair model")

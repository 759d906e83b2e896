"""Video analysis: chunked == one pass, readable pose tables, no partial results, API roles."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from jobs.models import Job, JobStatus
from learning.analysis import videos as analysis
from learning.analysis.labeled_video import draw_pose, render_frame_png, render_video
from learning.engine import backends
from learning.formats.pose_table import read_pose_table
from learning.models import CurrentModel
from learning.tasks import analyze_video_task
from learning.training.registry import clear_cache
from tests.learning.helpers import make_version
from tests.videofactory import make_video
from videos.ingest import add_video

pytestmark = pytest.mark.django_db
N_FRAMES = 40


@pytest.fixture(autouse=True)
def _short_keyframe_interval(settings):
    settings.ANALYSIS_KEYFRAME_INTERVAL = 8  # chunks of a 40-frame clip, tracked


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def setup(project, tmp_path):
    clip = make_video(tmp_path, n_frames=N_FRAMES)
    video = add_video(project, clip.path, name="clip.mp4", register=True)
    version = make_version(project)
    CurrentModel.objects.create(project=project, version=version)
    return {"video": video, "version": version, "clip": clip}


def _run(video, version, **options) -> Job:
    job = analysis.create_analysis_job(video, version, options)
    analyze_video_task.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def _poses(job: Job) -> np.ndarray:
    path = default_storage.path(f"{job.result['folder']}/{job.result['pose_table']}")
    return read_pose_table(path).poses


def test_chunks_are_batch_multiples_and_cover_the_video():
    assert analysis.plan_chunks(40, 10, 8) == [(0, 16), (16, 32), (32, 40)]
    assert analysis.plan_chunks(5, 100, 16) == [(0, 5)]


@pytest.mark.parametrize("tracking", [True, False])
def test_chunked_result_equals_one_pass(setup, tracking):
    one = _run(setup["video"], setup["version"], chunk_frames=1000, batch_size=8,
               tracking=tracking)
    assert one.status == JobStatus.SUCCEEDED, one.error
    whole = _poses(one)
    chunked = _run(setup["video"], setup["version"], chunk_frames=10, batch_size=8,
                   tracking=tracking)
    assert chunked.status == JobStatus.SUCCEEDED, chunked.error
    assert whole.shape == (N_FRAMES, 4, 3)
    np.testing.assert_array_equal(_poses(chunked), whole)
    # The same folder was rewritten: only the newer analysis is offered.
    assert [a["job_id"] for a in analysis.list_analyses(setup["video"])] == [chunked.pk]


@pytest.mark.compute
def test_int8_analysis_is_chunk_invariant_close_to_float_and_recorded(setup, monkeypatch):
    monkeypatch.setattr(backends.torch.cuda, "is_available", lambda: False)
    one = _run(setup["video"], setup["version"], chunk_frames=1000, batch_size=8, int8=True)
    chunked = _run(setup["video"], setup["version"], chunk_frames=10, batch_size=8, int8=True)
    assert one.status == chunked.status == JobStatus.SUCCEEDED, (one.error, chunked.error)
    assert one.params["int8"] is True
    # Every chunk calibrates on the same frames of the video: the same int8 model.
    np.testing.assert_array_equal(_poses(chunked), _poses(one))
    exact = _poses(_run(setup["video"], setup["version"], chunk_frames=1000, batch_size=8))
    dist = np.linalg.norm(_poses(one)[..., :2] - exact[..., :2], axis=-1)
    assert np.median(dist) < 1.0
    # The runner is the int8 network: its outputs differ (a little) from the float32 one's.
    int8, cfg = analysis.make_runner(setup["version"], int8_video=str(setup["clip"].path))
    exact_runner, _ = analysis.make_runner(setup["version"])
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 96, 3), dtype=np.uint8)
    a, b = int8(frames)[1], exact_runner(frames)[1]  # locref: the raw head output
    assert a is not None and b is not None
    assert 0 < float((a - b).abs().max()) < 0.5


def test_int8_falls_back_to_float_when_quantisation_fails(setup, monkeypatch):
    from learning.engine.export import OnnxRunner

    monkeypatch.setattr(backends.torch.cuda, "is_available", lambda: False)

    def broken(*args, **kwargs):
        raise RuntimeError("no quantiser here")

    monkeypatch.setattr(backends, "quantize_onnx_int8", broken)
    runner, _ = analysis.make_runner(setup["version"], int8_video=str(setup["clip"].path))
    assert isinstance(runner, OnnxRunner)


@pytest.mark.parametrize("backend", [None, "eager"])
def test_analysis_completes_with_and_without_a_result_backend(setup, monkeypatch, backend):
    """No backend: the first task runs every chunk itself; a backend (here eager): a chord.
    Both publish the same poses."""
    from learning import tasks
    from poseloop.celery import app

    reference = _poses(_run(setup["video"], setup["version"], chunk_frames=1000, batch_size=8))
    if backend is None:  # what a worker sees without CELERY_RESULT_BACKEND, in any environment
        monkeypatch.setattr(tasks, "_has_result_backend", lambda: False)
    else:
        assert app.conf.task_always_eager
    chords = []
    real_chord = tasks.chord
    monkeypatch.setattr(tasks, "chord",
                        lambda header: chords.append(header) or real_chord(header))
    job = _run(setup["video"], setup["version"], chunk_frames=10, batch_size=8)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert len(chords) == (0 if backend is None else 1)
    np.testing.assert_array_equal(_poses(job), reference)


def test_only_the_chord_parts_store_results(settings):
    from learning.tasks import (
        analyze_chunk_task,
        analyze_merge_task,
        analyze_video_task,
    )

    assert settings.CELERY_TASK_IGNORE_RESULT and settings.CELERY_RESULT_EXPIRES > 0
    assert analyze_chunk_task.ignore_result is False
    assert analyze_video_task.ignore_result and analyze_merge_task.ignore_result


def test_progress_counts_frames(setup):
    job = _run(setup["video"], setup["version"], chunk_frames=16, batch_size=8)
    assert job.progress == 1.0 and job.message == f"{N_FRAMES} frames"
    assert job.result["frames"] == N_FRAMES


def test_pose_table_is_read_by_pandas_and_movement(setup):
    from movement.io import load_poses

    job = _run(setup["video"], setup["version"], pcutoff=0.5)
    folder = Path(default_storage.path(job.result["folder"]))
    h5 = folder / job.result["pose_table"]
    assert h5.name == f"clipPoseLoop_{setup['video'].project.name.replace(' ', '')}_v1.h5"
    df = pd.read_hdf(h5, key="df_with_missing")
    assert df.shape == (N_FRAMES, 12) and list(df.index) == list(range(N_FRAMES))
    assert df.columns.names == ["scorer", "bodyparts", "coords"]
    ds = load_poses.from_dlc_file(h5, fps=30)
    assert ds.position.shape[0] == N_FRAMES
    filtered = read_pose_table(folder / h5.name.replace(".h5", "_filtered.h5")).poses
    low = filtered[..., 2] < 0.5
    assert np.isnan(filtered[..., 0][low]).all()
    assert {f.name for f in folder.iterdir()} == {*job.result["files"], "manifest.json"}
    # the plain tables hold the filtered poses: frame by frame in CSV, tidy rows in Parquet
    wide = pd.read_csv(folder / h5.name.replace(".h5", "_plain.csv"))
    assert len(wide) == N_FRAMES and wide.columns[0] == "frame"
    assert np.array_equal(np.isnan(wide.iloc[:, 1::3].to_numpy()), low)
    tidy = pd.read_parquet(folder / h5.name.replace(".h5", "_plain.parquet"))
    assert len(tidy) == N_FRAMES * filtered.shape[1]
    assert np.allclose(tidy["likelihood"].to_numpy(), filtered[..., 2].ravel())


def test_a_failed_chunk_publishes_nothing(setup, monkeypatch):
    real = analysis.analyze_video

    def flaky(path, runner, cfg, *, start=0, **kwargs):
        if start > 0:
            raise RuntimeError("worker lost")
        return real(path, runner, cfg, start=start, **kwargs)

    monkeypatch.setattr(analysis, "analyze_video", flaky)
    job = analysis.create_analysis_job(setup["video"], setup["version"],
                                       {"chunk_frames": 16, "batch_size": 8, "tracking": False})
    with pytest.raises(RuntimeError, match="worker lost"):
        analyze_video_task.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "worker lost" in job.message
    assert analysis.list_analyses(setup["video"]) == []
    analyses_root = Path(default_storage.path(f"projects/{job.project_id}/analyses"))
    assert not analyses_root.exists() or not [p for p in analyses_root.rglob("*") if p.is_file()]


def test_cli_prints_the_pose_table_last(setup, project, tmp_path, capsys):
    clip = make_video(tmp_path, name="other.mp4", n_frames=20, seed=3)
    call_command("analyze_video", str(clip.path), project=project.name, chunk_frames=16,
                 batch=8)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith(".h5") and Path(last).is_file()
    assert read_pose_table(last).poses.shape == (20, 4, 3)


def test_labeled_video_has_every_frame_and_draws_the_points(setup, tmp_path):
    clip = setup["clip"]
    poses = np.concatenate([clip.keypoints[:, 0], np.ones((N_FRAMES, 4, 1))], axis=-1)
    poses[:, 3, 2] = 0.1  # tailbase below the cutoff: drawn hollow
    colors = [(255, 0, 255), (0, 255, 255), (255, 255, 0), (0, 0, 0)]
    out = render_video(clip.path, poses, tmp_path / "labeled.mp4", colors, [(0, 1)])
    cap = cv2.VideoCapture(str(out))
    count = 0
    while cap.grab():
        count += 1
    cap.release()
    assert count == N_FRAMES
    png = render_frame_png(clip.path, poses[7], 7, colors, [(0, 1)], pcutoff=0.5)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    x, y = np.round(poses[7, 0, :2]).astype(int)
    assert tuple(image[y, x]) == colors[0]
    tx, ty = np.round(poses[7, 3, :2]).astype(int)
    assert tuple(image[ty, tx]) != colors[3]  # hollow: the centre keeps the video's pixel


def test_hidden_points_are_not_drawn():
    frame = np.full((50, 50, 3), 100, np.uint8)
    pose = np.array([[25.0, 25.0, 0.1]])
    draw_pose(frame, pose, [(0, 0, 255)], pcutoff=0.5, below="hide")
    assert (frame == 100).all()


# ---------------------------------------------------------------------------- API


def _url(project, tail):
    return f"/api/projects/{project.pk}/{tail}"


@pytest.fixture
def analysed(setup):
    job = _run(setup["video"], setup["version"])
    return {**setup, "job": job}


LIST_ROLES = {None: 401, "outsider": 404, "other_pi": 404, "annotator": 403, "reviewer": 200,
              "pi": 200, "staff": 200}


def test_list_and_download_roles(project, users, analysed, as_user):
    """One analysis, every role (an analysis per role would make the suite slow)."""
    video, job = analysed["video"], analysed["job"]
    for role, expected in LIST_ROLES.items():
        client = as_user(role)
        listed = client.get(_url(project, f"videos/{video.pk}/analyses/"))
        assert listed.status_code == expected, role
        download = client.get(_url(
            project, f"videos/{video.pk}/analyses/{job.pk}/download/{job.result['pose_table']}"))
        assert download.status_code == expected, role
        if expected == 200:
            assert [a["id"] for a in listed.json()] == [job.pk]
            assert b"".join(download.streaming_content)[:8] == b"\x89HDF\r\n\x1a\n"


def test_download_refuses_names_outside_the_manifest(project, users, analysed, as_user):
    video, job = analysed["video"], analysed["job"]
    response = as_user("pi").get(
        _url(project, f"videos/{video.pk}/analyses/{job.pk}/download/manifest.json"))
    assert response.status_code == 404


def test_frame_image_api(project, users, analysed, as_user):
    video, job = analysed["video"], analysed["job"]
    tail = f"videos/{video.pk}/analyses/{job.pk}/frames/3/"
    response = as_user("reviewer").get(_url(project, tail))
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"
    assert as_user("annotator").get(_url(project, tail)).status_code == 403


@pytest.mark.parametrize(("role", "expected"), [
    ("outsider", 404), ("annotator", 403), ("reviewer", 403), ("pi", 202),
])
def test_analyze_roles(project, users, setup, as_user, role, expected, monkeypatch):
    monkeypatch.setattr(analyze_video_task, "delay", lambda job_id: None)
    response = as_user(role).post(
        _url(project, f"videos/{setup['video'].pk}/analyze/"),
        {"version": setup["version"].pk, "filtered": False}, format="json")
    assert response.status_code == expected
    if expected == 202:
        assert response.json()["params"]["filtered"] is False


def test_analyze_refuses_a_model_of_another_project(project, users, setup, as_user):
    from tests.factories import ProjectFactory

    other_version = make_version(ProjectFactory())
    response = as_user("pi").post(_url(project, f"videos/{setup['video'].pk}/analyze/"),
                                  {"version": other_version.pk}, format="json")
    assert response.status_code == 400


def test_cpu_analysis_runs_onnx_runtime_and_falls_back_to_pytorch(setup, monkeypatch):
    from learning.engine.export import OnnxRunner, TorchRunner

    monkeypatch.setattr(backends.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(analysis, "_runners", type(analysis._runners)())
    runner, _ = analysis.make_runner(setup["version"])
    assert isinstance(runner, OnnxRunner)

    def broken(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(backends, "export_onnx", broken)
    analysis._runners.clear()
    runner, _ = analysis.make_runner(setup["version"])
    assert isinstance(runner, TorchRunner)


def test_float_runners_are_built_once_per_version_per_process(setup, monkeypatch):
    """The chunks of an analysis reuse the exported network; int8 ones are calibrated anew."""
    monkeypatch.setattr(analysis, "_runners", type(analysis._runners)())
    builds = []
    real = analysis._build_runner
    monkeypatch.setattr(analysis, "_build_runner",
                        lambda version, int8: builds.append(int8) or real(version, int8))
    first, _ = analysis.make_runner(setup["version"])
    again, _ = analysis.make_runner(setup["version"])
    assert again is first and builds == [None]
    analysis.make_runner(setup["version"], int8_video=str(setup["clip"].path))
    assert builds == [None, str(setup["clip"].path)]

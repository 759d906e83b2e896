"""Rigs, calibrations, sessions and triangulation through the API (Celery eager)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage

from cameras.models import Calibration, Rig, Session, Triangulation
from jobs.models import Job, JobKind, JobStatus
from learning.geometry.calibration_toml import load_calibration_toml
from tests.cameras.conftest import BOARD_TOML, N_FRAMES, upload

pytestmark = pytest.mark.django_db


def _url(project, tail: str) -> str:
    return f"/api/projects/{project.pk}/{tail}"


def test_pi_creates_a_rig_and_others_cannot(project, as_user):
    body = {"name": "ring", "cameras": ["a", "b"], "board_toml": BOARD_TOML}
    for role in ("annotator", "reviewer", "other_pi"):
        assert as_user(role).post(_url(project, "rigs/"), body, format="json").status_code \
            in (403, 404)
    response = as_user("pi").post(_url(project, "rigs/"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["board"]["board_size"] == [7, 9]
    assert as_user("reviewer").get(_url(project, "rigs/")).json()[0]["name"] == "ring"


@pytest.mark.parametrize("body, message", [
    ({"name": "r", "cameras": ["a"]}, "at least 2"),
    ({"name": "r", "cameras": ["a", "a"]}, "unique"),
    ({"name": "r", "cameras": ["a b", "c"]}, "letters"),
    ({"name": "r", "cameras": ["a", "b"], "board_toml": "board_type = 3 ="}, "Board"),
    ({"name": "r", "cameras": ["a", "b"], "board": {"board_type": "charuco"}}, "Board"),
])
def test_bad_rigs_are_refused_with_a_message(project, as_user, body, message):
    response = as_user("pi").post(_url(project, "rigs/"), body, format="json")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Rig.objects.exists()


def test_duplicate_rig_name_is_a_400(project, rig, as_user):
    response = as_user("pi").post(_url(project, "rigs/"),
                                  {"name": "ring", "cameras": ["a", "b"]}, format="json")
    assert response.status_code == 400 and "already" in response.content.decode()


def test_imported_calibration_round_trips_as_toml(project, rig, toml_file, rig_cameras, as_user,
                                                  tmp_path):
    pi = as_user("pi")
    response = pi.post(_url(project, f"rigs/{rig.pk}/calibrations/import/"),
                       {"file": upload(toml_file)}, format="multipart")
    assert response.status_code == 201, response.content
    cal = response.json()
    assert cal["status"] == "ready" and [c["name"] for c in cal["cameras"]] == rig.cameras
    text = pi.get(cal["toml_url"]).content
    (tmp_path / "back.toml").write_bytes(text)
    for got, want in zip(load_calibration_toml(tmp_path / "back.toml"), rig_cameras, strict=True):
        assert got.name == want.name
        np.testing.assert_allclose(got.matrix, want.matrix)
        np.testing.assert_allclose(got.tvec, want.tvec)


def test_calibration_of_other_cameras_is_refused(project, as_user, toml_file, users):
    from cameras.rigs import create_rig

    rig = create_rig(project, "other", ["x", "y", "z"], BOARD_TOML, user=users["pi"])
    response = as_user("pi").post(_url(project, f"rigs/{rig.pk}/calibrations/import/"),
                                  {"file": upload(toml_file)}, format="multipart")
    assert response.status_code == 400 and "not the rig's" in response.content.decode()
    assert not Calibration.objects.exists()


def test_calibrating_needs_a_video_per_camera_and_stores_nothing_otherwise(project, rig,
                                                                        as_user, tmp_path):
    video = tmp_path / "board.avi"
    video.write_bytes(b"not really")
    response = as_user("pi").post(_url(project, f"rigs/{rig.pk}/calibrations/"),
                                  {rig.cameras[0]: upload(video)}, format="multipart")
    assert response.status_code == 400
    assert "no board recording for" in response.content.decode()
    assert not Calibration.objects.exists()
    assert not Job.objects.filter(kind=JobKind.CALIBRATE).exists()


def test_calibration_from_board_videos_in_the_worker(project, as_user, users, tmp_path,
                                                     django_capture_on_commit_callbacks):
    """Rendered board videos of a synthetic rig: the job calibrates it to sub-pixel error and
    serves calibration.toml and one diagnostic image per camera."""
    from cameras.rigs import create_rig
    from learning.geometry import synthetic
    from learning.geometry.board import load_board

    board = load_board(BOARD_TOML)
    cams = synthetic.ring_rig(3, radius=300, height=400, size=(640, 512), focal=600,
                              dist=(-0.15, 0.05, 0, 0, 0), seed=1)
    poses = synthetic.random_board_poses(board, 16, seed=2, max_tilt_deg=40)
    videos = synthetic.render_board_videos(board, cams, poses, tmp_path / "board")
    rig = create_rig(project, "small", [c.name for c in cams], BOARD_TOML, user=users["pi"])
    pi = as_user("pi")
    with django_capture_on_commit_callbacks(execute=True):
        response = pi.post(_url(project, f"rigs/{rig.pk}/calibrations/"),
                           {name: upload(path) for name, path in videos.items()},
                           format="multipart")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    cal = pi.get(_url(project, f"rigs/{rig.pk}/")).json()["calibration"]
    assert cal["status"] == "ready"
    for name in rig.cameras:
        assert cal["reprojection_px"][name]["median"] < 0.5
        image = pi.get(cal["images"][name])
        assert image.status_code == 200 and b"".join(image.streaming_content)[:4] == b"\x89PNG"
    assert b"[cam_2]" in pi.get(cal["toml_url"]).content


def test_a_failed_calibration_says_why(project, rig, as_user, tmp_path,
                                       django_capture_on_commit_callbacks):
    from tests.videofactory import make_video

    clips = {c: make_video(tmp_path, f"{c}.mp4", n_frames=10, seed=i).path
             for i, c in enumerate(rig.cameras)}
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user("pi").post(_url(project, f"rigs/{rig.pk}/calibrations/"),
                                      {c: upload(p) for c, p in clips.items()},
                                      format="multipart")
    assert response.status_code == 202
    cal = Calibration.objects.get()
    job = Job.objects.get(kind=JobKind.CALIBRATE)
    assert cal.status == "failed" and job.status == JobStatus.FAILED
    assert "board" in cal.message.lower() and cal.message in job.message
    assert rig.current_calibration() is None


def test_session_needs_every_camera_and_equal_frame_counts(project, rig, session_videos,
                                                           as_user, tmp_path):
    from tests.videofactory import make_video
    from videos.ingest import add_video

    pi = as_user("pi")
    views = {c: v.pk for c, v in session_videos.items()}
    short = add_video(project, make_video(tmp_path, "short.mp4", n_frames=N_FRAMES - 2,
                                          seed=9).path, name="short.mp4", register=True)
    cases = [
        ({"name": "s", "rig": rig.pk, "views": {rig.cameras[0]: views[rig.cameras[0]]}},
         "missing"),
        ({"name": "s", "rig": rig.pk, "views": {**views, rig.cameras[0]: short.pk}},
         "different frame counts"),
        ({"name": "s", "rig": rig.pk, "views": views, "offsets": {rig.cameras[1]: 9999}},
         "offset"),
    ]
    for body, message in cases:
        response = pi.post(_url(project, "sessions/"), body, format="json")
        assert response.status_code == 400 and message in response.content.decode(), body
    assert not Session.objects.exists()
    trimmed = pi.post(_url(project, "sessions/"), {
        "name": "s", "rig": rig.pk, "views": {**views, rig.cameras[0]: short.pk}, "trim": True},
        format="json")
    assert trimmed.status_code == 201 and trimmed.json()["frame_count"] == N_FRAMES - 2
    offset = pi.post(_url(project, "sessions/"), {
        "name": "t", "rig": rig.pk, "views": views,
        "offsets": {c: 2 for c in rig.cameras}}, format="json")
    assert offset.status_code == 201 and offset.json()["frame_count"] == N_FRAMES - 2


def test_triangulation_recovers_the_known_3d_points(project, calibrated, session, pose_files,
                                                    truth, as_user,
                                                    django_capture_on_commit_callbacks):
    pi = as_user("pi")
    refused = pi.post(_url(project, f"sessions/{session.pk}/triangulate/"), {}, format="json")
    assert refused.status_code == 400 and "No 2D poses" in refused.content.decode()
    for camera, path in pose_files.items():
        response = pi.post(_url(project, f"sessions/{session.pk}/views/{camera}/poses/"),
                           {"file": upload(path)}, format="multipart")
        assert response.status_code == 200, response.content
    detail = pi.get(_url(project, f"sessions/{session.pk}/")).json()
    assert {s["kind"] for s in detail["pose_sources"].values()} == {"upload"}
    with django_capture_on_commit_callbacks(execute=True):
        response = pi.post(_url(project, f"sessions/{session.pk}/triangulate/"),
                           {"videos": True}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    tri = pi.get(_url(project, f"sessions/{session.pk}/triangulations/"
                                f"{response.json()['triangulation']['id']}/")).json()
    assert tri["frames"] == N_FRAMES
    assert all(r["median"] < 0.01 for r in tri["reprojection_px"].values())
    body = pi.get(tri["points_url"]).json()
    points = np.array(body["points"], dtype=float)
    np.testing.assert_allclose(points, truth, atol=0.05)  # mm
    assert body["bodyparts"][:2] == ["nose", "ear_l"]
    assert {"points3d.h5", "points3d.csv", "cam0_reprojected.mp4"} <= set(tri["downloads"])
    # the 3D table a user downloads is one movement reads as 3D positions
    from movement.io import load_poses

    data = b"".join(pi.get(tri["downloads"]["points3d.h5"]).streaming_content)
    path = default_storage.path("check-points3d.h5")
    with open(path, "wb") as fh:
        fh.write(data)
    ds = load_poses.from_dlc_file(path)
    assert list(ds.position.coords["space"].values) == ["x", "y", "z"]
    np.testing.assert_allclose(ds.position.sel(individuals=ds.individuals[0]).transpose(
        "time", "keypoints", "space").values, truth, atol=0.05)


def test_triangulate_needs_a_calibration(project, session, as_user):
    response = as_user("pi").post(_url(project, f"sessions/{session.pk}/triangulate/"), {},
                                  format="json")
    assert response.status_code == 400 and "no ready calibration" in response.content.decode()
    assert not Triangulation.objects.exists()


def test_unreadable_poses_are_refused_and_nothing_kept(project, session, as_user):
    response = as_user("pi").post(
        _url(project, f"sessions/{session.pk}/views/{session.rig.cameras[0]}/poses/"),
        {"file": io.BytesIO(b"junk")}, format="multipart")
    assert response.status_code == 400
    bad = as_user("pi").post(
        _url(project, f"sessions/{session.pk}/views/{session.rig.cameras[0]}/poses/"),
        {"file": upload_bytes(b"a,b\n1,2\n", "x.csv")}, format="multipart")
    assert bad.status_code == 400
    assert not any(v.poses for v in session.views.all())


def upload_bytes(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_analyse_all_views_queues_one_analysis_per_camera(project, session, as_user,
                                                         django_capture_on_commit_callbacks):
    from learning.models import CurrentModel
    from tests.learning.helpers import make_version

    version = make_version(project)
    CurrentModel.objects.create(project=project, version=version)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user("pi").post(_url(project, f"sessions/{session.pk}/analyze/"), {},
                                      format="json")
    assert response.status_code == 202, response.content
    assert len(response.json()) == 3
    jobs = Job.objects.filter(kind=JobKind.ANALYZE)
    assert {j.params["video_id"] for j in jobs} == {v.video_id for v in session.views.all()}
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs), [j.error for j in jobs]
    sources = as_user("pi").get(_url(project, f"sessions/{session.pk}/")).json()["pose_sources"]
    assert {s["kind"] for s in sources.values()} == {"analysis"}
    assert {s["version_id"] for s in sources.values()} == {version.pk}

"""The 3D pages: PI only, forms call the services and say what went wrong."""

from __future__ import annotations

import pytest
from django.test import Client

from cameras.models import Rig, Session
from tests.cameras.conftest import BOARD_TOML, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_as(users):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(users[role])
        return client
    return make


def test_pages_are_for_the_pi(project, rig, session, browser_as):
    urls = [f"/projects/{project.pk}/cameras/", f"/projects/{project.pk}/cameras/rigs/{rig.pk}/",
            f"/projects/{project.pk}/cameras/sessions/{session.pk}/"]
    for url in urls:
        assert browser_as("pi").get(url).status_code == 200, url
        for role in ("annotator", "reviewer", "outsider"):
            assert browser_as(role).get(url).status_code in (403, 404), (url, role)


def test_rig_form_creates_a_rig_or_says_why(project, browser_as):
    pi = browser_as("pi")
    bad = pi.post(f"/projects/{project.pk}/cameras/rigs/new/",
                  {"name": "r", "cameras": "only-one", "board_toml": ""}, follow=True)
    assert "at least two cameras" in bad.content.decode()
    assert not Rig.objects.exists()
    good = pi.post(f"/projects/{project.pk}/cameras/rigs/new/",
                   {"name": "r", "cameras": "a, b, c", "board_toml": BOARD_TOML}, follow=True)
    rig = Rig.objects.get()
    assert rig.cameras == ["a", "b", "c"] and rig.board["board_size"] == [7, 9]
    page = good.content.decode()
    for camera in rig.cameras:
        assert f'name="video-{camera}"' in page  # one board recording per camera


def test_session_form_and_page(project, rig, calibrated, session_videos, pose_files, browser_as,
                               django_capture_on_commit_callbacks):
    pi = browser_as("pi")
    form = {"name": "day2", **{f"view-{c}": v.pk for c, v in session_videos.items()}}
    response = pi.post(f"/projects/{project.pk}/cameras/rigs/{rig.pk}/sessions/new/", form,
                       follow=True)
    session = Session.objects.get(name="day2")
    assert response.redirect_chain[-1][0].endswith(f"/cameras/sessions/{session.pk}/")
    page = response.content.decode()
    assert "no poses yet" in page and "Triangulate the session" not in page  # JS says that
    refused = pi.post(f"/projects/{project.pk}/cameras/sessions/{session.pk}/triangulate/",
                      follow=True)
    assert "No 2D poses" in refused.content.decode()
    for camera, path in pose_files.items():
        pi.post(f"/projects/{project.pk}/cameras/sessions/{session.pk}/views/{camera}/poses/",
                {"file": upload(path)})
    with django_capture_on_commit_callbacks(execute=True):
        done = pi.post(f"/projects/{project.pk}/cameras/sessions/{session.pk}/triangulate/",
                       follow=True)
    assert "Triangulation queued" in done.content.decode()
    page = pi.get(f"/projects/{project.pk}/cameras/sessions/{session.pk}/").content.decode()
    tri = session.triangulations.get()
    assert tri.frames == session.frame_count
    assert f"/triangulations/{tri.pk}/points/" in page  # the viewer's data
    assert "points3d.h5" in page

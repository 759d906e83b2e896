"""The "Analysis & exports" page: PI only; analyse a video, download its pose table, export a
model bundle (a plain HTML form against the API, CSRF enforced) and a labeled dataset."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

import pytest
from django.test import Client

from jobs.models import Job, JobKind, JobStatus
from learning.models import CurrentModel
from learning.tasks import analyze_video_task
from learning.training.registry import clear_cache
from tests.learning.helpers import make_version
from tests.videofactory import make_video
from videos.ingest import add_video

pytestmark = pytest.mark.django_db


def _client(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def video_and_model(project, tmp_path):
    clear_cache()
    clip = make_video(tmp_path, n_frames=16)
    video = add_video(project, clip.path, name="clip.mp4", register=True)
    version = make_version(project)
    CurrentModel.objects.create(project=project, version=version)
    yield video, version
    clear_cache()


@pytest.mark.parametrize(("role", "expected"), [
    ("pi", 200), ("reviewer", 403), ("annotator", 403), ("outsider", 404)])
def test_page_is_for_the_pi(project, users, role, expected):
    assert _client(users[role]).get(f"/projects/{project.pk}/analysis/").status_code == expected


def test_only_the_pi_sees_the_link_in_the_project_nav(project, users):
    link = f"/projects/{project.pk}/analysis/"
    assert link in _client(users["pi"]).get(f"/projects/{project.pk}/models/").content.decode()
    assert link not in _client(users["reviewer"]).get(
        f"/projects/{project.pk}/models/").content.decode()


def test_pi_queues_an_analysis_with_the_chosen_options(project, users, video_and_model):
    video, version = video_and_model
    client = _client(users["pi"])
    page = client.get(f"/projects/{project.pk}/analysis/").content.decode()
    assert "clip.mp4" in page and "Not analysed yet" in page and 'id="jobs"' in page
    response = client.post(f"/projects/{project.pk}/analysis/videos/{video.pk}/",
                           {"version": str(version.pk), "int8": "on"})
    assert response.status_code == 302
    job = Job.objects.get(project=project, kind=JobKind.ANALYZE)
    assert job.params["video_id"] == video.pk and job.params["version_id"] == version.pk
    assert job.params["int8"] is True and job.params["tracking"] is False
    assert "queued" in client.get(f"/projects/{project.pk}/analysis/").content.decode()


def test_bad_choices_are_refused_and_change_nothing(project, users, video_and_model):
    video, _ = video_and_model
    client = _client(users["pi"])
    client.post(f"/projects/{project.pk}/analysis/videos/{video.pk}/", {"version": "x"})
    client.post(f"/projects/{project.pk}/analysis/videos/{video.pk}/", {"version": "99999"})
    client.post(f"/projects/{project.pk}/analysis/dataset/", {"format": "xlsx"})
    assert not Job.objects.filter(project=project).exists()
    page = client.get(f"/projects/{project.pk}/analysis/").content.decode()
    assert "Choose a model" in page and "Choose a format" in page
    refused = _client(users["reviewer"]).post(
        f"/projects/{project.pk}/analysis/videos/{video.pk}/", {})
    assert refused.status_code == 403 and not Job.objects.exists()


def test_finished_analysis_offers_its_files_for_download(project, users, video_and_model):
    video, version = video_and_model
    client = _client(users["pi"])
    client.post(f"/projects/{project.pk}/analysis/videos/{video.pk}/", {"tracking": "on"})
    job = Job.objects.get(project=project, kind=JobKind.ANALYZE)
    analyze_video_task.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    page = client.get(f"/projects/{project.pk}/analysis/").content.decode()
    links = re.findall(r'href="([^"]+\.h5)"', page)
    assert links and f"/videos/{video.pk}/analyses/{job.pk}/download/" in links[0]
    download = client.get(links[0])
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:8] == b"\x89HDF\r\n\x1a\n"
    assert _client(users["annotator"]).get(links[0]).status_code == 403
    preview = re.search(r'href="([^"]+/frames/0/)"', page).group(1)
    png = client.get(preview)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_bundle_form_posts_to_the_api_with_csrf(project, users, video_and_model):
    _, version = video_and_model
    client = _client(users["pi"], enforce_csrf_checks=True)
    page = client.get(f"/projects/{project.pk}/analysis/").content.decode()
    action = f"/api/projects/{project.pk}/models/{version.pk}/export/"
    form = page[page.index(f'action="{action}"'):]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    assert client.post(action).status_code == 403  # no token: refused
    response = client.post(action, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(BytesIO(b"".join(response.streaming_content))).namelist()
    assert any(n.endswith(".onnx") for n in names)


def test_pi_exports_the_labeled_dataset_from_the_page(project, users, labeled_frames):
    labeled_frames(project, 3)
    client = _client(users["pi"])
    response = client.post(f"/projects/{project.pk}/analysis/dataset/", {"format": "coco"})
    assert response.status_code == 302
    job = Job.objects.get(project=project, kind=JobKind.EXPORT)
    assert job.status == JobStatus.SUCCEEDED and job.params["format"] == "coco"
    page = client.get(f"/projects/{project.pk}/analysis/").content.decode()
    assert job.result["name"] in page and "exported" in page

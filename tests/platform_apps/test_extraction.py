"""Frame extraction through the API/Celery task: strategies, progress, re-runs."""

from __future__ import annotations

import pytest

from jobs.models import Job
from tests import videofactory as vf
from videos.extraction import Strategy, extract
from videos.ingest import add_video
from videos.models import Frame


@pytest.fixture
def scene_video(project, tmp_path):
    clip = vf.make_scene_video(tmp_path)
    return add_video(project, clip.path, name="scenes.mp4"), clip


@pytest.mark.django_db
def test_kmeans_extraction_picks_each_scene(scene_video):
    video, clip = scene_video
    created = extract(video, Strategy.KMEANS, 3, seed=0)
    indices = sorted(Frame.objects.filter(pk__in=created).values_list("frame_index", flat=True))
    kinds = {int(vf.scene_kind(clip)[i]) for i in indices}
    assert kinds == {0, 1, 2}, indices


@pytest.mark.django_db
def test_uniform_extraction_misses_the_short_scenes(scene_video):
    video, clip = scene_video
    created = extract(video, Strategy.UNIFORM, 3)
    indices = Frame.objects.filter(pk__in=created).values_list("frame_index", flat=True)
    assert {int(vf.scene_kind(clip)[i]) for i in indices} != {0, 1, 2}


@pytest.mark.django_db(transaction=True)
def test_extraction_job_via_api_reports_progress_and_reruns_without_duplicates(
    project, users, as_user, scene_video
):
    video, _ = scene_video
    url = f"/api/projects/{project.pk}/videos/{video.pk}/extract/"
    response = as_user("pi").post(url, {"strategy": "kmeans", "n": 5}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.status, job.progress, job.result["created"]) == ("succeeded", 1.0, 5)
    first = set(Frame.objects.filter(video=video).values_list("frame_index", flat=True))
    assert len(first) == 5
    as_user("pi").post(url, {"strategy": "kmeans", "n": 5}, format="json")
    second = list(Frame.objects.filter(video=video).values_list("frame_index", flat=True))
    assert len(second) == len(set(second)) == 10
    assert first <= set(second)


@pytest.mark.django_db
def test_extracted_frame_image_is_the_decoded_frame(scene_video, as_user, users, project):
    import cv2
    import numpy as np

    video, clip = scene_video
    [frame_id] = extract(video, Strategy.RANDOM, 1, seed=3)
    frame = Frame.objects.get(pk=frame_id)
    response = as_user("annotator").get(f"/api/projects/{project.pk}/frames/{frame_id}/image/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    png = b"".join(response.streaming_content)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    expected = vf.decode_all(clip.path)[frame.frame_index]
    assert np.array_equal(image, expected)


@pytest.mark.django_db
def test_bad_extraction_requests_are_400(project, users, as_user, scene_video):
    video, _ = scene_video
    url = f"/api/projects/{project.pk}/videos/{video.pk}/extract/"
    for body in (
        {"strategy": "magic", "n": 3},
        {"strategy": "uniform", "n": 0},
        {"strategy": "uniform", "n": 10**6},
    ):
        assert as_user("pi").post(url, body, format="json").status_code == 400
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_demo_command_is_idempotent(settings, tmp_path):
    from django.core.management import call_command

    from projects.models import Project

    settings.VAR_DIR = tmp_path
    call_command("demo", frames=4, video_frames=40)
    call_command("demo", frames=4, video_frames=40)
    project = Project.objects.get(name__startswith="Demo")
    assert project.videos.count() == 1
    assert project.frames.count() == 4
    assert project.memberships.count() == 4

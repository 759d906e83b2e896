"""(i) Soft delete of projects and videos, restore within the grace period, purge after it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from annotation.models import Label
from projects.deletion import delete_video, purge_expired, restore_video
from projects.models import Project
from tests.annotation.factories import LabelFactory
from videos.models import Frame, Video


@pytest.fixture
def stocked(project, users):
    frame = Frame(project=project, width=8, height=8, origin="imported", external_path="a.png")
    frame.image.save("a.png", ContentFile(b"png"), save=True)
    LabelFactory(frame=frame, annotator=users["annotator"])
    return frame


def _files(project_id: int) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "projects" / str(project_id)
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_delete_needs_the_exact_name_and_the_pi(project, users, as_user, stocked):
    url = f"/api/projects/{project.pk}/"
    assert as_user("pi").delete(url).status_code == 400
    assert as_user("pi").delete(url + "?confirm=wrong").status_code == 400
    assert as_user("annotator").delete(f"{url}?confirm={project.name}").status_code == 403
    assert as_user("outsider").delete(f"{url}?confirm={project.name}").status_code == 404
    project.refresh_from_db()
    assert project.deleted_at is None


@pytest.mark.django_db
def test_deleted_project_disappears_and_comes_back(project, users, as_user, stocked):
    url = f"/api/projects/{project.pk}/"
    response = as_user("pi").delete(f"{url}?confirm={project.name}")
    assert response.status_code == 200
    assert response.json()["restorable_until"]
    for role in ("pi", "annotator", "staff"):
        assert as_user(role).get(url).status_code == 404
        assert project.name not in str(as_user(role).get("/api/projects/").json())
    assert as_user("annotator").post(url + "restore/").status_code == 404
    assert as_user("other_pi").post(url + "restore/").status_code == 404
    assert as_user("pi").post(url + "restore/").status_code == 200
    assert as_user("annotator").get(url).status_code == 200
    assert Label.objects.filter(project=project).count() == 1  # nothing was lost


@pytest.mark.django_db
def test_staff_restores_but_not_after_the_grace_period(project, users, as_user, stocked):
    url = f"/api/projects/{project.pk}/"
    as_user("pi").delete(f"{url}?confirm={project.name}")
    Project.objects.filter(pk=project.pk).update(
        deleted_at=timezone.now() - timedelta(days=settings.DELETE_GRACE_DAYS, seconds=1))
    assert as_user("staff").post(url + "restore/").status_code == 400
    Project.objects.filter(pk=project.pk).update(deleted_at=timezone.now())
    assert as_user("staff").post(url + "restore/").status_code == 200


@pytest.mark.django_db
def test_purge_removes_expired_projects_with_their_media_only(project, users, as_user,
                                                              stocked):
    from tests.factories import ProjectFactory

    recent = ProjectFactory(deleted_at=timezone.now())
    as_user("pi").delete(f"/api/projects/{project.pk}/?confirm={project.name}")
    assert _files(project.pk)
    call_command("purge_deleted")  # inside the grace period: nothing goes
    assert Project.objects.filter(pk=project.pk).exists() and _files(project.pk)
    later = timezone.now() + timedelta(days=settings.DELETE_GRACE_DAYS, minutes=1)
    counts = purge_expired(now=later)
    assert counts["projects"] == 2 and counts["files"] >= 1
    assert not Project.objects.filter(pk__in=[project.pk, recent.pk]).exists()
    assert Label.objects.count() == 0 and _files(project.pk) == []


@pytest.mark.django_db
def test_video_soft_delete_restore_and_purge(project, users, as_user):
    video = Video.objects.create(project=project, name="v.mp4", sha256="2" * 64, size_bytes=1,
                                 fps=30, frame_count=1, width=8, height=8,
                                 source_path="/none.mp4")
    url = f"/api/projects/{project.pk}/videos/{video.pk}/"
    with pytest.raises(PermissionDenied):
        delete_video(video, users["annotator"])
    delete_video(video, users["pi"])
    assert as_user("pi").get(url).status_code == 404
    assert video.pk not in [v["id"] for v in as_user("pi").get(
        f"/api/projects/{project.pk}/videos/").json()["results"]]
    restore_video(video)
    assert as_user("pi").get(url).status_code == 200
    delete_video(video, users["staff"])
    purge_expired(now=timezone.now() + timedelta(days=settings.DELETE_GRACE_DAYS, minutes=1))
    assert not Video.objects.filter(pk=video.pk).exists()
    assert Project.objects.filter(pk=project.pk).exists()


@pytest.mark.django_db
def test_frames_of_a_deleted_video_leave_lists_queue_and_training(project, users, as_user):
    from annotation.queue import enqueue_frames, lease_next
    from learning.training.datasets import labeled_frame_ids

    video = Video.objects.create(project=project, name="v.mp4", sha256="3" * 64, size_bytes=1,
                                 fps=30, frame_count=10, width=8, height=8, source_path="/v.mp4")
    frames = []
    for index in range(2):
        frame = Frame(project=project, video=video, frame_index=index, width=8, height=8,
                      origin="extracted")
        frame.image.save(f"f{index}.png", ContentFile(b"png"), save=True)
        frames.append(frame)
    LabelFactory(frame=frames[0], annotator=users["annotator"])
    enqueue_frames(project.pk, [frames[1].pk], reason="manual")
    delete_video(video, users["pi"])
    listed = as_user("pi").get(f"/api/projects/{project.pk}/frames/").json()["results"]
    assert {f["id"] for f in listed}.isdisjoint({f.pk for f in frames})
    image_url = f"/api/projects/{project.pk}/frames/{frames[0].pk}/image/"
    assert as_user("pi").get(image_url).status_code == 404
    assert lease_next(project, users["annotator"]) is None
    assert frames[0].pk not in labeled_frame_ids(project)
    restore_video(Video.objects.get(pk=video.pk))
    assert frames[0].pk in labeled_frame_ids(project)
    assert lease_next(project, users["annotator"]).frame_id == frames[1].pk

"""Video uploads: good files are validated and kept; bad ones leave no row and no file."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import videofactory as vf
from videos.models import Video


def media_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def upload(client, project, path: Path, name: str | None = None):
    with path.open("rb") as fh:
        return client.post(
            f"/api/projects/{project.pk}/videos/",
            {"file": SimpleUploadedFile(name or path.name, fh.read())},
            format="multipart",
        )


@pytest.mark.django_db
def test_good_video_is_probed_and_stored(project, users, as_user, tmp_path, settings):
    clip = vf.make_video(tmp_path, n_frames=45)
    response = upload(as_user("pi"), project, clip.path)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["frame_count"], body["width"], body["height"]) == (45, 160, 120)
    assert body["fps"] == pytest.approx(30.0)
    assert body["codec"] in {"mp4v", "FMP4"}  # the fourcc OpenCV reports for MPEG-4 part 2
    video = Video.objects.get(pk=body["id"])
    assert Path(video.file.path).read_bytes() == clip.path.read_bytes()


@pytest.mark.django_db
def test_same_content_twice_is_409(project, users, as_user, tmp_path, settings):
    clip = vf.make_video(tmp_path, n_frames=30)
    assert upload(as_user("pi"), project, clip.path).status_code == 201
    files = media_files(settings)
    response = upload(as_user("pi"), project, clip.path, name="renamed.mp4")
    assert response.status_code == 409
    assert "already" in response.json()["detail"]
    assert Video.objects.count() == 1
    assert media_files(settings) == files


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_bad",
    [
        lambda p: vf.write_empty(p / "empty.mp4"),
        lambda p: vf.write_text(p / "notes.mp4"),
        lambda p: vf.write_random_bytes(p / "random.mp4"),
        lambda p: vf.write_png_as_video(p / "frame.mp4"),
        lambda p: vf.write_truncated(vf.make_video(p, n_frames=60).path, p / "cut.mp4"),
    ],
    ids=["empty", "text", "random", "png-renamed", "truncated"],
)
def test_bad_files_are_400_and_leave_nothing(project, users, as_user, tmp_path, settings, make_bad):
    bad = make_bad(tmp_path)
    response = upload(as_user("pi"), project, bad)
    assert response.status_code == 400, response.content
    assert "file" in response.json()
    assert Video.objects.count() == 0
    assert media_files(settings) == []


BAD_FILES = [
    lambda p: vf.write_random_bytes(p / "random.mp4"),
    lambda p: vf.write_png_as_video(p / "frame.mp4"),
    lambda p: vf.write_truncated(vf.make_video(p, n_frames=60).path, p / "cut.mp4"),
    lambda p: vf.write_text(p / "notes.mp4"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("make_bad", BAD_FILES, ids=["random", "png", "truncated", "text"])
@pytest.mark.parametrize("in_memory", [True, False], ids=["in-memory", "temporary-file"])
def test_refusals_name_the_uploaded_file(
    project, users, as_user, tmp_path, settings, make_bad, in_memory
):
    # Django keeps small uploads in memory and streams bigger ones to a temporary file;
    # either way the message must name the file the user chose, not a /tmp/tmpXXXX name.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10**9 if in_memory else 0
    bad = make_bad(tmp_path)
    response = upload(as_user("pi"), project, bad, name="Session 3 (cam A).mp4")
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["file"])
    assert message.startswith("Session 3 (cam A).mp4 "), message
    assert "tmp" not in message


@pytest.mark.django_db
def test_upload_page_refusal_names_the_uploaded_file(project, users, client, tmp_path):
    client.force_login(users["pi"])
    bad = vf.write_png_as_video(tmp_path / "x.mp4")
    upload_file = SimpleUploadedFile("arena_day2.mp4", bad.read_bytes())
    response = client.post(f"/projects/{project.pk}/videos/upload/", {"file": upload_file})
    assert response.status_code == 400
    assert "arena_day2.mp4 is a PNG image, not a video" in response.content.decode()


@pytest.mark.django_db
def test_over_the_limit_is_413_and_leaves_nothing(project, users, as_user, tmp_path, settings):
    settings.MAX_UPLOAD_MB = 1
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))
    response = upload(as_user("pi"), project, big)
    assert response.status_code == 413
    assert Video.objects.count() == 0
    assert media_files(settings) == []


@pytest.mark.django_db
def test_path_traversal_in_the_file_name_is_neutralised(
    project, users, as_user, tmp_path, settings
):
    clip = vf.make_video(tmp_path, n_frames=30)
    response = upload(as_user("pi"), project, clip.path, name="../../../etc/evil.mp4")
    assert response.status_code == 201
    video = Video.objects.get()
    assert video.name == "evil.mp4"
    assert Path(video.file.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())


@pytest.mark.django_db
def test_annotators_cannot_upload(project, users, as_user, tmp_path):
    clip = vf.make_video(tmp_path, n_frames=30)
    assert upload(as_user("annotator"), project, clip.path).status_code == 403
    assert Video.objects.count() == 0


@pytest.mark.django_db
def test_browser_upload_page(project, users, client, tmp_path, settings):
    client.force_login(users["pi"])
    clip = vf.make_video(tmp_path, n_frames=30)
    with clip.path.open("rb") as fh:
        response = client.post(f"/projects/{project.pk}/videos/upload/", {"file": fh})
    assert response.status_code == 302
    assert Video.objects.filter(project=project).count() == 1
    bad = vf.write_text(tmp_path / "bad.mp4")
    with bad.open("rb") as fh:
        response = client.post(f"/projects/{project.pk}/videos/upload/", {"file": fh})
    assert response.status_code == 400
    assert Video.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_register_video_from_server_path(project, tmp_path, settings):
    from django.core.management import CommandError, call_command

    clip = vf.make_video(tmp_path, n_frames=30)
    settings.VIDEO_ROOTS = [tmp_path]
    call_command("register_video", str(clip.path), project=project.name)
    video = Video.objects.get()
    assert video.source_path == str(clip.path.resolve()) and not video.file
    outside = Path("/etc/hostname")
    with pytest.raises(CommandError):
        call_command("register_video", str(outside), project=project.name)
    with pytest.raises(CommandError):
        call_command("register_video", str(tmp_path / ".." / "x.mp4"), project=project.name)
    assert Video.objects.count() == 1

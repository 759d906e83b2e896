"""Hand-written hostile input: path traversal, malformed imports, NaN, oversized uploads.

Each must end in a 4xx with nothing half-written (no rows, no stored files).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import Label, LabelRevision
from projects.models import Project
from tests.learning.test_import_export import PARTS, make_dlc_project, zipped
from videos.models import Frame, Video

IMPORT_URL = "/api/projects/import/dlc/"


def media_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def _nothing_written(frames_before: int = 0) -> None:
    assert Frame.objects.count() == frames_before
    assert Label.objects.count() == 0 and LabelRevision.objects.count() == 0
    assert media_files() == []


# --- path traversal -----------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("name", ["../../settings.py", "..%2F..%2Fsettings.py", "%2Fetc%2Fpasswd",
                                  "....//....//etc/passwd", "dataset.zip%00.txt"])
def test_export_download_names_cannot_leave_the_export_folder(as_user, project, name):
    response = as_user("pi").get(f"/api/projects/{project.pk}/exports/{name}/download/")
    assert response.status_code in (400, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("filename", ["..%2F..%2Fmanage.py", "%2Fetc%2Fpasswd", "../x"])
def test_analysis_file_names_cannot_leave_the_analysis(as_user, project, filename):
    video = Video.objects.create(project=project, name="v", sha256="1" * 64, size_bytes=1, fps=30,
                                 frame_count=1, width=8, height=8, source_path="/none.mp4")
    response = as_user("pi").get(f"/api/projects/{project.pk}/videos/{video.pk}/analyses/1/"
                                 f"download/{filename}")
    assert response.status_code in (400, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/passwd", "/tmp/../etc/shadow",
                                  "relative/video.mp4"])
def test_server_paths_outside_the_video_roots_are_refused(path, settings, tmp_path):
    from django.core.exceptions import ValidationError

    from videos.ingest import check_server_path

    settings.VIDEO_ROOTS = [tmp_path]
    with pytest.raises(ValidationError):
        check_server_path(path)


@pytest.mark.django_db
def test_zip_entries_with_dot_dot_are_refused_and_nothing_is_written(as_user, users, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("proj/config.yaml", "Task: x\n")
        zf.writestr("../../evil.txt", "owned")
    buf.seek(0)
    buf.name = "evil.zip"
    response = as_user("pi").post(IMPORT_URL, {"file": buf, "name": "evil"}, format="multipart")
    assert response.status_code == 400
    assert not Project.objects.filter(name="evil").exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    _nothing_written()


@pytest.mark.django_db
def test_project_names_with_path_characters_stay_names(as_user, users):
    """A name is data: it never becomes part of a storage path."""
    response = as_user("pi").post("/api/projects/", {
        "name": "../../etc", "skeleton": {"bodyparts": [{"name": "a"}]}}, format="json")
    assert response.status_code in (201, 400)
    assert media_files() == []


# --- malformed DeepLabCut / COCO imports over the API -------------------------------------

def _csv(root: Path) -> Path:
    csv = root / "labeled-data" / "vid" / "CollectedData_tester.csv"
    csv.with_suffix(".h5").unlink()
    return csv


def _edit_cell(csv: Path, row: int, col: int, value: str) -> None:
    lines = csv.read_text().splitlines()
    cells = lines[row].split(",")
    cells[col] = value
    lines[row] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")


def _edit_bodyparts_row(csv: Path, old: str, new: str, count: int) -> None:
    lines = csv.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("bodyparts,"))
    lines[row] = lines[row].replace(old, new, count)
    csv.write_text("\n".join(lines) + "\n")


def _wrong_header(csv: Path) -> None:
    _edit_bodyparts_row(csv, "bodyparts", "parts", 1)


def _unknown_part(csv: Path) -> None:
    _edit_bodyparts_row(csv, "tailbase", "tail", 2)


def _negative(csv: Path) -> None:
    _edit_cell(csv, 4, 1, "-5.0")


def _half_nan(csv: Path) -> None:
    _edit_cell(csv, 4, 1, "nan")  # x missing, y present: not a valid absent point


def _outside(csv: Path) -> None:
    _edit_cell(csv, 4, 1, "1e9")


def _text(csv: Path) -> None:
    _edit_cell(csv, 4, 2, "twelve")


@pytest.mark.django_db
@pytest.mark.parametrize("breakage", [_wrong_header, _unknown_part, _negative, _half_nan,
                                      _outside, _text])
def test_malformed_dlc_upload_is_a_400_and_writes_nothing(as_user, users, tmp_path, breakage):
    root = make_dlc_project(tmp_path / "p")
    breakage(_csv(root))
    response = as_user("pi").post(IMPORT_URL, {"file": zipped(root), "name": "broken"},
                                  format="multipart")
    assert response.status_code == 400, response.content
    assert not Project.objects.filter(name="broken").exists()
    _nothing_written()


@pytest.mark.django_db
def test_dlc_upload_into_a_project_with_other_parts_is_refused(as_user, users, tmp_path):
    from accounts.models import Role
    from tests.factories import MembershipFactory, ProjectFactory

    project = ProjectFactory(skeleton={"bodyparts": [{"name": "nose"}, {"name": "tail"}]})
    MembershipFactory(project=project, user=users["pi"], role=Role.PI)
    assert project.bodypart_names() != PARTS
    frames = Frame.objects.count()
    root = make_dlc_project(tmp_path / "p")
    response = as_user("pi").post(IMPORT_URL, {"file": zipped(root), "project": project.pk},
                                  format="multipart")
    assert response.status_code == 400
    _nothing_written(frames)


@pytest.mark.django_db
@pytest.mark.parametrize("mutate", [
    lambda d: d["annotations"][0].__setitem__("keypoints", [-4, 5, 2] * 4),
    lambda d: d["annotations"][0].__setitem__("keypoints", [1, 2, 2]),  # too few values
    lambda d: d["categories"][0].__setitem__("keypoints", ["snout", "ghost"]),
    lambda d: d["images"][0].__setitem__("file_name", "../../outside.png"),
    lambda d: d.pop("annotations"),
])
def test_malformed_coco_writes_nothing(tmp_path, project, mutate):
    from learning.exchange.importing import import_coco
    from learning.formats.errors import FormatError

    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (32, 24)).save(images / "a.png")
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 24}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "num_keypoints": 4,
                             "keypoints": [3, 4, 2] * 4}],
            "categories": [{"id": 1, "name": "animal", "keypoints": project.bodypart_names(),
                            "skeleton": []}]}
    mutate(data)
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    frames = Frame.objects.count()
    with pytest.raises((FormatError, ValueError)):
        import_coco(project, path, images)
    _nothing_written(frames)


# --- label points ------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, 1e9, "12", None])
def test_label_points_must_be_finite_and_inside_the_frame(as_user, users, project, bad):
    from annotation.queue import enqueue_frames
    from tests.annotation.factories import FrameFactory

    frame = FrameFactory(project=project)
    enqueue_frames(project.pk, [frame.pk], reason="manual")
    client = as_user("annotator")
    lease = client.post(f"/api/projects/{project.pk}/queue/next/").json()
    points = [{"bodypart": bp.pk, "x": 10.0, "y": 10.0, "state": "visible"}
              for bp in project.bodyparts.all()]
    points[0]["x"] = bad
    body = json.dumps({"points": points, "version": 0, "entry": lease["entry"]["id"],
                       "submit": True}, allow_nan=True)
    response = client.put(f"/api/projects/{project.pk}/frames/{frame.pk}/label/", body,
                          content_type="application/json")
    assert response.status_code == 400
    assert Label.objects.count() == 0 and LabelRevision.objects.count() == 0


# --- oversized uploads -------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/projects/{p}/videos/", IMPORT_URL])
def test_uploads_over_the_limit_are_413_and_leave_nothing(as_user, project, settings, url):
    settings.MAX_UPLOAD_MB = 1
    payload = io.BytesIO(b"\0" * (3 * 2**20))
    payload.name = "big.mp4" if "videos" in url else "big.zip"
    fields = {"file": payload} if "videos" in url else {"file": payload, "name": "big"}
    response = as_user("pi").post(url.format(p=project.pk), fields, format="multipart")
    assert response.status_code == 413
    assert Video.objects.count() == 0
    assert not Project.objects.filter(name="big").exists()
    assert media_files() == []

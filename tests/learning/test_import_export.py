"""Importing DeepLabCut/COCO datasets into projects and exporting them back."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from PIL import Image

from accounts.access import role_in
from accounts.models import Role
from annotation.agreement import consensus_keypoints
from annotation.labels import import_label
from annotation.models import Label, LabelRevision
from learning.exchange import importing
from learning.exchange.exporting import export_coco, export_dlc, export_sleap
from learning.exchange.importing import (
    guess_mirror_pairs,
    import_coco,
    import_dlc_project,
    run_dlc_import,
)
from learning.formats.dlc import (
    DLCConfig,
    read_collected_data,
    read_dlc_project,
    write_dlc_project,
)
from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames
from learning.formats.sleap import read_slp
from projects.models import Project
from videos.models import Frame, FrameOrigin

# The import route lives outside /api/projects/<pid>/; this urlconf adds it for the API tests
# whatever the main urlconf does.
IMPORT_URL = "/api/projects/import/dlc/"
PARTS = ["snout", "leftear", "rightear", "tailbase"]



def media_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def make_dlc_project(root: Path, n: int = 3, size: tuple[int, int] = (64, 48)) -> Path:
    """A tiny DeepLabCut project with PARTS and n labeled images (one point absent)."""
    rng = np.random.default_rng(3)
    kp = rng.uniform(1, min(size) - 1, size=(n, 1, len(PARTS), 2))
    kp[0, 0, 3] = np.nan
    paths = [f"labeled-data/vid/img{i:03d}.png" for i in range(n)]
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (40, 80, 120)).save(root / rel)
    config = DLCConfig(task="tiny", scorer="tester", bodyparts=tuple(PARTS))
    write_frames = LabeledFrames(paths, PARTS, kp, scorer="tester")
    write_dlc_project(root, config, write_frames)
    return root


def zipped(folder: Path, prefix: str = "proj/") -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
    buf.seek(0)
    buf.name = "project.zip"
    return buf


def upload(client, buf: io.BytesIO, **fields):
    return client.post(IMPORT_URL, {"file": buf, **fields}, format="multipart")


# --- pairs ---------------------------------------------------------------------------------


def test_mirror_pairs_are_guessed_from_names():
    names = ["snout", "leftear", "rightear", "L_paw", "R_paw", "hip_l", "hip_r", "EyeLeft",
             "EyeRight", "tail"]  # fmt: skip
    assert guess_mirror_pairs(names) == [
        ("leftear", "rightear"), ("L_paw", "R_paw"), ("hip_l", "hip_r"), ("EyeLeft", "EyeRight"),
    ]  # fmt: skip
    assert guess_mirror_pairs(["Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"]) == []
    assert guess_mirror_pairs(["leftear"]) == []


# --- real DeepLabCut data ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_openfield_imports_frames_labels_and_skeleton(shared_data):
    summary = run_dlc_import(shared_data / "openfield", project_name="openfield")
    project = summary.project
    assert summary.project_created
    assert project.bodypart_names() == PARTS
    frames = Frame.objects.filter(project=project)
    assert frames.count() == 116
    assert set(frames.values_list("origin", flat=True)) == {FrameOrigin.IMPORTED}
    assert set(frames.values_list("width", "height")) == {(640, 480)}
    first = frames.get(external_path="labeled-data/m4s1/img0000.png")
    assert first.image.storage.exists(first.image.name)
    ids, kp, vis = consensus_keypoints(project)
    assert kp.shape == (116, 4, 2)
    assert int((vis > 0).sum()) == 464 and not np.isnan(kp).any()
    assert Label.objects.filter(project=project).count() == 116
    left, right = project.bodyparts.get(name="leftear"), project.bodyparts.get(name="rightear")
    assert left.mirror_id == right.pk and right.mirror_id == left.pk


@pytest.mark.slow
@pytest.mark.django_db
def test_reaching_keeps_absent_points_and_both_image_sizes(shared_data):
    project = import_dlc_project(shared_data / "reaching", project_name="reaching")
    frames = Frame.objects.filter(project=project)
    assert frames.count() == 55
    sizes = list(frames.values_list("width", "height"))
    assert sizes.count((832, 747)) == 40 and sizes.count((640, 470)) == 15
    _, kp, vis = consensus_keypoints(project)
    assert int(np.isnan(kp).sum()) == 84 and int((vis == 0).sum()) == 42
    absent = [p for pts in Label.objects.values_list("points", flat=True) for p in pts
              if p["state"] == "absent"]  # fmt: skip
    assert len(absent) == 42 and all(p["x"] is None for p in absent)
    edges = {(e.source.name, e.target.name) for e in project.edges.all()}
    assert edges == {("Hand", "Finger1"), ("Joystick1", "Joystick2")}


@pytest.mark.slow
@pytest.mark.django_db
def test_reimport_is_idempotent(shared_data):
    project = import_dlc_project(shared_data / "reaching", project_name="reaching")
    files, revisions = len(media_files()), LabelRevision.objects.count()
    again = run_dlc_import(shared_data / "reaching", project_name="reaching")
    assert again.project == project and not again.project_created
    assert (again.frames_created, again.frames_existing) == (0, 55)
    assert (again.labels_written, again.labels_unchanged) == (0, 55)
    assert Frame.objects.filter(project=project).count() == 55
    assert Label.objects.filter(project=project).count() == 55
    assert LabelRevision.objects.count() == revisions
    assert len(media_files()) == files


# --- malformed projects write nothing ------------------------------------------------------


def _break_header(csv: Path) -> None:
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace("bodyparts", "parts", 1)
    csv.write_text("\n".join(lines) + "\n")


def _unknown_bodypart(csv: Path) -> None:
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace("tailbase", "tail", 2)
    csv.write_text("\n".join(lines) + "\n")


def _negative(csv: Path) -> None:
    lines = csv.read_text().splitlines()
    cells = lines[10].split(",")
    cells[3] = "-5.0"
    lines[10] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("breakage", "message"),
    [(_break_header, "header rows"), (_unknown_bodypart, "tail"), (_negative, "negative")],
)
def test_malformed_project_writes_nothing(shared_data, tmp_path, breakage, message):
    root = tmp_path / "openfield"
    shutil.copytree(shared_data / "openfield", root, ignore=shutil.ignore_patterns("videos"))
    folder = root / "labeled-data" / "m4s1"
    (folder / "CollectedData_Pranav.h5").unlink()  # the CSV is read instead
    breakage(folder / "CollectedData_Pranav.csv")
    with pytest.raises(FormatError, match=message):
        import_dlc_project(root, project_name="broken")
    assert not Project.objects.filter(name="broken").exists()
    assert Frame.objects.count() == 0 and Label.objects.count() == 0
    assert media_files() == []


@pytest.mark.django_db
def test_point_outside_its_image_is_refused(tmp_path):
    root = make_dlc_project(tmp_path / "p", size=(64, 48))
    csv = root / "labeled-data" / "vid" / "CollectedData_tester.csv"
    (csv.with_suffix(".h5")).unlink()
    lines = csv.read_text().splitlines()
    cells = lines[4].split(",")
    cells[1] = "500"
    lines[4] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="outside the 64x48 image"):
        import_dlc_project(root, project_name="p")
    assert Frame.objects.count() == 0 and media_files() == []


@pytest.mark.django_db
def test_failure_while_writing_deletes_stored_images(tmp_path, monkeypatch):
    root = make_dlc_project(tmp_path / "p", n=3)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return import_label(*args, **kwargs)

    monkeypatch.setattr(importing, "import_label", failing)
    with pytest.raises(RuntimeError):
        import_dlc_project(root, project_name="p")
    assert not Project.objects.filter(name="p").exists()
    assert Frame.objects.count() == 0 and Label.objects.count() == 0
    assert media_files() == []


@pytest.mark.django_db
def test_existing_project_with_other_bodyparts_is_refused(tmp_path, project):
    root = make_dlc_project(tmp_path / "p")
    project_parts = project.bodypart_names()
    project.bodyparts.filter(name="tailbase").update(name="tail")
    with pytest.raises(FormatError, match="unknown tailbase; missing tail"):
        run_dlc_import(root, project=project)
    assert project_parts == PARTS and Frame.objects.count() == 0


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_dlc_round_trip_keeps_collected_data_layout(shared_data, tmp_path):
    project = import_dlc_project(shared_data / "openfield", project_name="openfield")
    export_dlc(project, tmp_path / "out", "Pranav")
    name = "labeled-data/m4s1/CollectedData_Pranav.h5"
    original = pd.read_hdf(shared_data / "openfield" / name)
    written = pd.read_hdf(tmp_path / "out" / name)
    assert list(written.columns) == list(original.columns)
    assert written.columns.names == original.columns.names
    assert list(written.index) == list(original.index)
    assert list(written.dtypes) == list(original.dtypes)
    np.testing.assert_array_equal(written.to_numpy(), original.to_numpy())
    back = read_dlc_project(tmp_path / "out")
    assert back.frames.n_frames == 116 and back.config.bodyparts == tuple(PARTS)
    assert (tmp_path / "out" / "labeled-data" / "m4s1" / "img0000.png").is_file()
    csv = read_collected_data(tmp_path / "out" / name.replace(".h5", ".csv"))
    np.testing.assert_allclose(csv.keypoints[:, 0], original.to_numpy().reshape(116, 4, 2))


@pytest.mark.slow
@pytest.mark.django_db
def test_coco_round_trip_into_a_new_project(shared_data, tmp_path):
    project = import_dlc_project(shared_data / "reaching", project_name="reaching")
    frame = Frame.objects.get(project=project, external_path__endswith="img005.png")
    points = Label.objects.get(frame=frame).points
    points[0]["state"] = "occluded"
    import_label(project, frame, points)
    export_coco(project, tmp_path / "coco" / "annotations.json", images_dir=tmp_path / "coco")
    summary = import_coco("reaching copy", tmp_path / "coco" / "annotations.json",
                          tmp_path / "coco")  # fmt: skip
    copy = summary.project
    assert summary.project_created and copy.bodypart_names() == project.bodypart_names()
    ids_a, kp_a, vis_a = consensus_keypoints(project)
    ids_b, kp_b, vis_b = consensus_keypoints(copy)
    np.testing.assert_array_equal(kp_a, kp_b)
    np.testing.assert_array_equal(vis_a, vis_b)
    assert (vis_b == 1).sum() == 1
    paths_a = [Frame.objects.get(pk=i).external_path for i in ids_a]
    assert paths_a == [Frame.objects.get(pk=i).external_path for i in ids_b]
    sizes = set(Frame.objects.filter(project=copy).values_list("width", "height"))
    assert sizes == {(832, 747), (640, 470)}


@pytest.mark.django_db
def test_sleap_export_reads_back(tmp_path):
    project = import_dlc_project(make_dlc_project(tmp_path / "p"), project_name="p")
    export_sleap(project, tmp_path / "s" / "labels.slp", images_dir=tmp_path / "s")
    back = read_slp(tmp_path / "s" / "labels.slp")
    _, kp, _ = consensus_keypoints(project)
    assert back.bodyparts == PARTS
    np.testing.assert_allclose(back.keypoints[:, 0], kp)
    assert (tmp_path / "s" / back.image_paths[0]).is_file()


# --- export API ----------------------------------------------------------------------------


def _export_url(project) -> str:
    return f"/api/projects/{project.pk}/exports/dataset/"


@pytest.fixture
def labeled_project(users, project, tmp_path):
    """The `users` project (openfield's body parts) with three imported labeled frames."""
    run_dlc_import(make_dlc_project(tmp_path / "p"), project=project)
    return project


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["dlc", "coco", "sleap"])
def test_pi_exports_and_downloads_a_zip(as_user, labeled_project, fmt):
    client = as_user("pi")
    res = client.post(_export_url(labeled_project), {"format": fmt}, format="json")
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["job"]["status"] == "succeeded" and body["job"]["result"]["n_frames"] == 3
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    expected = {"dlc": "CollectedData_poseloop.h5", "coco": "annotations.json",
                "sleap": "labels.slp"}[fmt]  # fmt: skip
    assert any(n.endswith(expected) for n in names)
    assert any(n.endswith("labeled-data/vid/img000.png") for n in names)
    listed = client.get(_export_url(labeled_project)).json()
    assert listed[0]["name"] == body["name"]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "code"), [("annotator", 403), ("reviewer", 403),
                                            ("outsider", 404), ("other_pi", 404)])  # fmt: skip
def test_export_is_for_the_pi_only(as_user, labeled_project, role, code):
    res = as_user("pi").post(_export_url(labeled_project), {"format": "dlc"}, format="json")
    url = res.json()["download_url"]
    client = as_user(role)
    assert client.post(_export_url(labeled_project), {"format": "dlc"}, format="json"
                       ).status_code == code  # fmt: skip
    assert client.get(url).status_code == code


@pytest.mark.django_db
def test_export_of_unknown_or_odd_names_is_404(as_user, labeled_project):
    client = as_user("pi")
    base = f"/api/projects/{labeled_project.pk}/exports/"
    assert client.get(base + "nothing.zip/download/").status_code == 404
    assert client.get(base + "..%2F..%2Fsecret.zip/download/").status_code == 404


@pytest.mark.django_db
def test_export_without_labels_is_400(as_user, project, users):
    res = as_user("pi").post(_export_url(project), {"format": "coco"}, format="json")
    assert res.status_code == 400 and "no submitted or accepted labels" in res.json()["detail"]
    assert res.json()["job"]["status"] == "failed"


@pytest.mark.django_db
def test_export_rejects_unknown_format(as_user, project, users):
    res = as_user("pi").post(_export_url(project), {"format": "xml"}, format="json")
    assert res.status_code == 400


# --- zip import API ------------------------------------------------------------------------


@pytest.mark.django_db
def test_any_user_imports_a_zip_as_a_new_project(as_user, users, tmp_path):
    buf = zipped(make_dlc_project(tmp_path / "p"))
    res = upload(as_user("outsider"), buf, name="Zipped")
    assert res.status_code == 201, res.json()
    project = Project.objects.get(name="Zipped")
    assert res.json()["frames_created"] == 3 and res.json()["absent_points"] == 1
    assert role_in(users["outsider"], project) == Role.PI


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "code"), [("pi", 200), ("staff", 200), ("annotator", 403),
                                            ("reviewer", 403), ("outsider", 404)])  # fmt: skip
def test_import_into_an_existing_project_needs_its_pi(as_user, project, users, tmp_path, role,
                                                      code):  # fmt: skip
    res = upload(as_user(role), zipped(make_dlc_project(tmp_path / "p")), project=project.pk)
    assert res.status_code == code, res.json()
    assert Frame.objects.filter(project=project).count() == (3 if code == 200 else 0)


@pytest.mark.django_db
def test_import_by_name_of_someone_elses_project_is_refused(as_user, project, users, tmp_path):
    res = upload(as_user("annotator"), zipped(make_dlc_project(tmp_path / "p")), name=project.name)
    assert res.status_code == 400 and Frame.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_import_is_refused(tmp_path):
    from rest_framework.test import APIClient

    res = upload(APIClient(), zipped(make_dlc_project(tmp_path / "p")), name="x")
    assert res.status_code in (401, 403) and not Project.objects.exists()


def _evil_zip(entry: str, *, symlink: bool = False) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("proj/config.yaml", "Task: x\n")
        info = zipfile.ZipInfo(entry)
        if symlink:
            info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd" if symlink else "boom")
    buf.seek(0)
    buf.name = "evil.zip"
    return buf


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("entry", "symlink", "message"),
    [("../../evil.txt", False, "outside"), ("proj/../../evil.txt", False, "outside"),
     ("/tmp/evil.txt", False, "absolute"), ("C:/evil.txt", False, "absolute"),
     ("proj/link", True, "symbolic link")],
)  # fmt: skip
def test_dangerous_zips_are_refused(as_user, users, tmp_path, entry, symlink, message):
    res = upload(as_user("pi"), _evil_zip(entry, symlink=symlink), name="Evil")
    assert res.status_code == 400 and message in res.json()["detail"]
    assert not Project.objects.filter(name="Evil").exists()
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.django_db
def test_oversize_and_broken_zips_are_refused(as_user, users, tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "MAX_UNPACKED_BYTES", 1000)
    res = upload(as_user("pi"), zipped(make_dlc_project(tmp_path / "p")), name="Big")
    assert res.status_code == 400 and "limit" in res.json()["detail"]
    broken = io.BytesIO(b"not a zip at all")
    broken.name = "x.zip"
    res = upload(as_user("pi"), broken, name="Broken")
    assert res.status_code == 400 and "zip" in res.json()["detail"]
    assert not Project.objects.exists() or not Project.objects.filter(name__in=["Big", "Broken"])


@pytest.mark.django_db
def test_zip_with_a_bad_project_writes_nothing(as_user, users, tmp_path):
    root = make_dlc_project(tmp_path / "p")
    (root / "labeled-data" / "vid" / "img001.png").unlink()
    res = upload(as_user("pi"), zipped(root), name="Missing")
    assert res.status_code == 400 and "missing" in res.json()["detail"]
    assert not Project.objects.filter(name="Missing").exists() and media_files() == []


# --- commands ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_commands_import_export_and_reimport_coco(tmp_path):
    from django.core.management import CommandError, call_command

    root = make_dlc_project(tmp_path / "p")
    out = io.StringIO()
    call_command("import_dlc", str(root), "--project", "cmd", stdout=out)
    assert "3 frame(s) added" in out.getvalue()
    call_command("export_dataset", "--project", "cmd", "--format", "coco",
                 "--out", str(tmp_path / "coco"), stdout=io.StringIO())  # fmt: skip
    out = io.StringIO()
    call_command("import_coco", str(tmp_path / "coco" / "annotations.json"),
                 "--images", str(tmp_path / "coco"), "--project", "cmd", stdout=out)  # fmt: skip
    assert "0 frame(s) added, 3 already there" in out.getvalue()
    assert "0 label(s) written, 3 unchanged" in out.getvalue()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_dlc", str(tmp_path / "nowhere"), "--project", "x",
                     stdout=io.StringIO())  # fmt: skip
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("export_dataset", "--project", "cmd", "--out", str(tmp_path / "coco"))

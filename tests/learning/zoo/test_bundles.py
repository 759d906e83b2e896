"""Publish → export → import round trip; corrupted bundles are refused with nothing created."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from learning.training.registry import set_current
from learning.zoo.entries import zoo_checkpoint_path
from learning.zoo.models import ZooEntry


def last_json(out: io.StringIO) -> dict:
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_publish_export_import_round_trip(source, tmp_path):
    project, _pi, version = source
    set_current(version)
    out = io.StringIO()
    call_command("zoo", "publish", "--project", project.name, "--name", "Mice",
                 "--species", "mouse", "--view", "top", stdout=out)
    published = last_json(out)
    entry = ZooEntry.objects.get(pk=published["id"])
    assert entry.source_version == version and entry.test_rmse_px == 3.5
    assert entry.bodyparts == project.bodypart_names()
    assert zoo_checkpoint_path(entry.pk).endswith("model.pt")
    path = tmp_path / "mice.zip"
    call_command("zoo", "export", str(entry.pk), str(path), stdout=io.StringIO())
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("zoo.json"))
    assert meta["format"] == "poseloop-zoo/1" and meta["sha256"] == entry.checkpoint_sha256
    out = io.StringIO()
    call_command("zoo", "import", str(path), stdout=out)
    imported = ZooEntry.objects.get(pk=last_json(out)["id"])
    assert imported.pk != entry.pk
    assert (imported.name, imported.species, imported.camera_view) == ("Mice", "mouse", "top")
    assert imported.checkpoint_sha256 == entry.checkpoint_sha256
    assert imported.bodyparts == entry.bodyparts and imported.pairs == entry.pairs
    assert imported.source_version is None and imported.source.startswith("imported")
    listing = io.StringIO()
    call_command("zoo", "list", stdout=listing)
    assert listing.getvalue().count("Mice") == 2


def corrupt(data: bytes, how: str) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in src.namelist():
            body = src.read(name)
            if how == "weights" and name == "model.pt":
                body = body[:-10] + b"0123456789"
            if how == "json" and name == "zoo.json":
                body = b"{not json"
            if how == "missing" and name == "model.pt":
                continue
            zf.writestr(name, body)
    return buf.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["weights", "json", "missing", "not-zip"])
def test_corrupted_bundles_are_refused(entry, users, as_user, tmp_path, how):
    client = as_user("pi")
    good = client.get(f"/api/zoo/{entry.pk}/bundle/")
    assert good.status_code == 200
    data = b"".join(good.streaming_content)
    bad = b"PK not a zip at all" if how == "not-zip" else corrupt(data, how)
    before = ZooEntry.objects.count()
    path = tmp_path / "bad.zip"
    path.write_bytes(bad)
    with pytest.raises(CommandError):
        call_command("zoo", "import", str(path), stdout=io.StringIO())
    response = client.post("/api/zoo/", {"bundle": io.BytesIO(bad)}, format="multipart")
    assert response.status_code == 400, response.content
    assert "bundle" in response.json()
    assert ZooEntry.objects.count() == before
    # The good bundle imports through the API.
    ok = client.post("/api/zoo/", {"bundle": io.BytesIO(data)}, format="multipart")
    assert ok.status_code == 201, ok.content
    assert ok.json()["checkpoint_sha256"] == entry.checkpoint_sha256

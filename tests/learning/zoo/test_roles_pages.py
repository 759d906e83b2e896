"""Who sees and manages zoo entries; the zoo pages render and their forms work."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from learning.models import VersionKind
from learning.training.registry import current_version
from learning.zoo.entries import publish
from learning.zoo.models import Visibility, ZooEntry
from tests.learning.helpers import make_version


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_restricted_entries_are_seen_by_members_of_the_named_projects_only(project, users,
                                                                           as_user):
    version = make_version(project)
    entry = publish(version, users["pi"], name="lab only", visibility=Visibility.PROJECTS)
    assert list(entry.projects.all()) == [project]
    for role in ("pi", "annotator", "reviewer", "staff"):
        assert as_user(role).get(f"/api/zoo/{entry.pk}/").status_code == 200, role
        assert entry.pk in [e["id"] for e in as_user(role).get("/api/zoo/").json()]
    for role in ("outsider", "other_pi"):
        assert as_user(role).get(f"/api/zoo/{entry.pk}/").status_code == 404, role
        assert as_user(role).get("/api/zoo/").json() == []
        assert as_user(role).get(f"/api/zoo/{entry.pk}/bundle/").status_code == 404
    # Annotators and reviewers may look, not publish; nobody but the publisher/staff deletes.
    body = {"version": version.pk, "name": "again"}
    assert as_user("annotator").post("/api/zoo/", body, format="json").status_code == 403
    assert as_user("outsider").post("/api/zoo/", body, format="json").status_code == 404
    assert as_user("reviewer").delete(f"/api/zoo/{entry.pk}/").status_code == 403
    assert as_user("pi").delete(f"/api/zoo/{entry.pk}/").status_code == 204
    assert not ZooEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_publish_filters_and_refusals(project, users, as_user):
    version = make_version(project, test_rmse=4.0)
    client = as_user("pi")
    made = client.post("/api/zoo/", {"version": version.pk, "name": "Rats", "species": "rat",
                                     "camera_view": "side"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["test_rmse_px"] == 4.0 and made.json()["bodyparts"][0] == "snout"
    assert [e["name"] for e in client.get("/api/zoo/?species=RAT&bodypart=Left_Ear").json()] \
        == ["Rats"]
    assert client.get("/api/zoo/?view=top").json() == []
    queued = make_version(project, status="queued")
    refused = client.post("/api/zoo/", {"version": queued.pk, "name": "x"}, format="json")
    assert refused.status_code == 400 and "version" in refused.json()


@pytest.mark.django_db
def test_zoo_pages_render_and_their_forms_work(entry, users, project):
    client = client_for(users["pi"])
    page = client.get("/zoo/?species=mouse")
    assert page.status_code == 200 and b"Mouse top view" in page.content
    assert b'href="/zoo/"' in client.get(f"/projects/{project.pk}/models/").content  # nav
    detail = client.get(f"/zoo/{entry.pk}/")
    assert detail.status_code == 200
    assert b"CC-BY-4.0" in detail.content and b"zoo-start-project" in detail.content
    # "Use in project" adopts into the PI's project, shown on its models page.
    response = client.post(f"/zoo/{entry.pk}/adopt/", {"project": project.pk})
    assert response.status_code == 302 and response.url == f"/projects/{project.pk}/models/"
    adopted = current_version(project)
    assert adopted is not None and adopted.kind == VersionKind.TRANSFERRED
    models = client.get(f"/projects/{project.pk}/models/").content.decode()
    assert "from zoo:" in models and "Mouse top view" in models
    # Publishing from the models page (a trained version) and the import form.
    trained = make_version(project)
    assert b"Publish to zoo" in client.get(f"/projects/{project.pk}/models/").content
    response = client.post("/zoo/publish/", {"version": trained.pk, "name": "From page"})
    assert response.status_code == 302 and ZooEntry.objects.filter(name="From page").exists()
    bundle = b"".join(client.get(f"/api/zoo/{entry.pk}/bundle/").streaming_content)
    upload = io.BytesIO(bundle)
    upload.name = "b.zip"
    response = client.post("/zoo/import/", {"bundle": upload, "visibility": "site"})
    assert response.status_code == 302
    assert ZooEntry.objects.filter(name="Mouse top view").count() == 2
    # Bad input comes back as a message, nothing created.
    bad = io.BytesIO(b"nope")
    bad.name = "bad.zip"
    response = client.post("/zoo/import/", {"bundle": bad}, follow=True)
    assert b"Not a zip file" in response.content
    response = client.post(f"/zoo/{entry.pk}/start-project/", {"name": ""}, follow=True)
    assert b"project name" in response.content

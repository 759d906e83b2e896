"""Role matrix for the platform endpoints: anonymous, outsider, annotator, reviewer, PI of
another project, PI, staff."""

from __future__ import annotations

import pytest

from jobs.models import Job, JobKind
from videos.models import Frame, Video

ROLES = ["anonymous", "outsider", "other_pi", "annotator", "reviewer", "pi", "staff"]
READ = {
    "anonymous": 401,
    "outsider": 404,
    "other_pi": 404,
    "annotator": 200,
    "reviewer": 200,
    "pi": 200,
    "staff": 200,
}
PI_READ = {**READ, "annotator": 403, "reviewer": 403}


def expect_write(ok: int) -> dict[str, int]:
    return {
        "anonymous": 401,
        "outsider": 404,
        "other_pi": 404,
        "annotator": 403,
        "reviewer": 403,
        "pi": ok,
        "staff": ok,
    }


@pytest.fixture
def objects(project, tmp_path):
    from django.core.files.base import ContentFile

    video = Video.objects.create(
        project=project,
        name="v.mp4",
        sha256="0" * 64,
        size_bytes=1,
        fps=30,
        frame_count=10,
        width=8,
        height=8,
        codec="mp4v",
        source_path="/nonexistent.mp4",
    )
    frame = Frame(
        project=project, video=video, frame_index=0, width=8, height=8, origin="extracted"
    )
    frame.image.save("f.png", ContentFile(b"\x89PNG fake"), save=True)
    job = Job.objects.create(project=project, kind=JobKind.EXTRACT_FRAMES, status="running")
    return {"video": video, "frame": frame, "job": job}


def client_for(as_user, role):
    return as_user(None if role == "anonymous" else role)


def cases(project, objects):
    p, v, f, j = project.pk, objects["video"].pk, objects["frame"].pk, objects["job"].pk
    base = f"/api/projects/{p}"
    return [
        ("get", f"{base}/", None, READ),
        ("patch", f"{base}/", {"description": "x"}, expect_write(200)),
        ("get", f"{base}/skeleton/", None, READ),
        ("put", f"{base}/skeleton/", None, expect_write(200)),
        ("get", f"{base}/members/", None, READ),
        (
            "post",
            f"{base}/members/",
            {"username": "nobody-here", "role": "annotator"},
            expect_write(400),
        ),
        ("get", f"{base}/invitations/", None, PI_READ),
        ("post", f"{base}/invitations/", {"role": "annotator"}, expect_write(201)),
        ("get", f"{base}/videos/", None, READ),
        ("get", f"{base}/videos/{v}/", None, READ),
        ("post", f"{base}/videos/{v}/extract/", {"strategy": "uniform", "n": 1}, expect_write(202)),
        ("get", f"{base}/frames/", None, READ),
        ("get", f"{base}/frames/{f}/", None, READ),
        ("get", f"{base}/frames/{f}/image/", None, READ),
        ("get", f"{base}/jobs/", None, READ),
        ("get", f"{base}/jobs/{j}/", None, READ),
        ("post", f"{base}/jobs/{j}/cancel/", None, expect_write(202)),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role, project, users, objects, as_user, monkeypatch):
    # Extraction itself is tested elsewhere; here only the permission decision matters.
    monkeypatch.setattr(
        "videos.api.start_extraction",
        lambda *a, **k: Job.objects.create(project=project, kind="extract_frames"),
    )
    client = client_for(as_user, role)
    skeleton = client_for(as_user, "pi").get(f"/api/projects/{project.pk}/skeleton/").json()
    failures = []
    for method, url, body, expected in cases(project, objects):
        if method == "put":
            body = {
                "bodyparts": skeleton["bodyparts"],
                "edges": skeleton["edges"],
                "pairs": skeleton["pairs"],
            }
        response = getattr(client, method)(url, body, format="json")
        if response.status_code != expected[role]:
            failures.append(f"{method.upper()} {url}: {response.status_code} != {expected[role]}")
        if method == "post" and url.endswith("/cancel/") and response.status_code == 202:
            Job.objects.filter(pk=objects["job"].pk).update(cancel_requested=False)
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_project_list_shows_only_own_projects(project, users, as_user):
    other_names = {p["name"] for p in as_user("outsider").get("/api/projects/").json()["results"]}
    assert other_names == set()
    mine = {p["name"] for p in as_user("annotator").get("/api/projects/").json()["results"]}
    assert mine == {project.name}
    assert project.name in {
        p["name"] for p in as_user("staff").get("/api/projects/").json()["results"]
    }


@pytest.mark.django_db
def test_objects_of_another_project_are_not_reachable_by_id(project, users, objects, as_user):
    from tests.factories import MembershipFactory, ProjectFactory

    other = ProjectFactory()
    MembershipFactory(project=other, user=users["pi"], role="pi")
    frame = objects["frame"].pk
    # The PI belongs to both projects, but the frame lives in `project` only.
    response = as_user("pi").get(f"/api/projects/{other.pk}/frames/{frame}/image/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_token_auth_works_for_scripts(users, project, client):
    from rest_framework.test import APIClient

    response = client.post(
        "/api/auth/token/", {"username": users["annotator"].username, "password": "pass-word-123"}
    )
    assert response.status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get(f"/api/projects/{project.pk}/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert api.get(f"/api/projects/{project.pk}/").status_code == 401

"""The platform's pages enforce roles like the API: outsiders 404, wrong role 403."""

from __future__ import annotations

import pytest

from videos.models import Video

PAGE_ROLES = ["outsider", "other_pi", "annotator", "reviewer", "pi", "staff"]


def pages(project, video):
    p = project.pk
    every_member = {"outsider": 404, "other_pi": 404, "annotator": 200, "reviewer": 200,
                    "pi": 200, "staff": 200}
    pi_only = {**every_member, "annotator": 403, "reviewer": 403}
    return [
        ("get", "/", None, {r: 200 for r in PAGE_ROLES}),
        ("get", "/projects/new/", None, {r: 200 for r in PAGE_ROLES}),
        ("get", f"/projects/{p}/", None, every_member),
        ("get", f"/projects/{p}/settings/", None, pi_only),
        ("get", f"/projects/{p}/members/", None, pi_only),
        ("get", f"/projects/{p}/videos/upload/", None, pi_only),
        ("post", f"/projects/{p}/videos/{video.pk}/extract/", {"strategy": "bogus", "n": 1},
         {**pi_only, "pi": 302, "staff": 302}),
    ]


@pytest.fixture
def video(project):
    return Video.objects.create(project=project, name="v.mp4", sha256="1" * 64, size_bytes=1,
                                fps=30, frame_count=10, width=8, height=8, source_path="/x.mp4")


@pytest.mark.django_db
@pytest.mark.parametrize("role", PAGE_ROLES)
def test_page_role_matrix(role, users, project, video, client):
    client.force_login(users[role])
    failures = []
    for method, url, data, expected in pages(project, video):
        status = getattr(client, method)(url, data or {}).status_code
        if status != expected[role]:
            failures.append(f"{method.upper()} {url}: {status} != {expected[role]}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(project, video, client):
    for method, url, data, _ in pages(project, video):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.django_db
def test_login_and_logout_pages(users, client):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": users["pi"].username,
                                                "password": "pass-word-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_create_project_page(users, client):
    from accounts.models import Membership

    client.force_login(users["outsider"])
    response = client.post("/projects/new/", {
        "name": "Reaching", "description": "", "bodyparts": "Hand\nFinger1\nJoystick1\nJoystick2",
        "edges": "Hand, Finger1\nJoystick1, Joystick2", "pairs": "",
    })
    assert response.status_code == 302
    membership = Membership.objects.get(user=users["outsider"], project__name="Reaching")
    assert membership.role == "pi"
    assert membership.project.bodypart_names() == ["Hand", "Finger1", "Joystick1", "Joystick2"]


@pytest.mark.django_db
def test_create_a_two_animal_project_with_named_individuals(users, client):
    client.force_login(users["outsider"])
    form = {"name": "Pair", "description": "", "bodyparts": "head\nthorax", "edges": "",
            "pairs": "", "max_animals": 2}
    refused = client.post("/projects/new/", {**form, "individuals": "male"})
    assert refused.status_code == 200 and b"Name every animal or none" in refused.content
    response = client.post("/projects/new/", {**form, "individuals": "male\nfemale"})
    assert response.status_code == 302
    from projects.models import Project

    project = Project.objects.get(name="Pair")
    assert (project.max_animals, project.individuals, project.multi_animal) == (
        2, ["male", "female"], True)


@pytest.mark.django_db
def test_project_page_shows_videos_frames_and_jobs(users, project, video, client):
    client.force_login(users["annotator"])
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert "v.mp4" in html and f"/api/projects/{project.pk}/jobs/" in html
    assert "Upload a video" not in html  # PI-only action hidden from annotators


@pytest.mark.django_db
def test_api_schema_and_docs(users, client):
    client.force_login(users["pi"])
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200

"""Creating projects and editing skeletons without corrupting labels."""

from __future__ import annotations

import pytest

from accounts.models import Membership, Role
from projects.models import BodyPart

SKELETON = {
    "bodyparts": [{"name": "snout"}, {"name": "leftear"}, {"name": "rightear"}, {"name": "tail"}],
    "edges": [["snout", "leftear"], ["snout", "rightear"]],
    "pairs": [["leftear", "rightear"]],
}


@pytest.mark.django_db
def test_create_project_makes_creator_pi(users, as_user):
    response = as_user("outsider").post(
        "/api/projects/", {"name": "Mice", "skeleton": SKELETON}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [b["name"] for b in body["skeleton"]["bodyparts"]] == [
        "snout",
        "leftear",
        "rightear",
        "tail",
    ]
    assert body["skeleton"]["pairs"] == [["leftear", "rightear"]]
    assert Membership.objects.get(project_id=body["id"], user=users["outsider"]).role == Role.PI


@pytest.mark.django_db
@pytest.mark.parametrize(
    "skeleton, field",
    [
        ({"bodyparts": []}, "bodyparts"),
        ({"bodyparts": [{"name": "a"}, {"name": "a"}]}, "bodyparts"),
        ({"bodyparts": [{"name": "a"}], "edges": [["a", "b"]]}, "edges"),
        ({"bodyparts": [{"name": "a"}, {"name": "b"}], "pairs": [["a", "a"]]}, "pairs"),
    ],
)
def test_bad_skeleton_is_400_and_creates_nothing(users, as_user, skeleton, field):
    from projects.models import Project

    before = Project.objects.count()
    response = as_user("pi").post(
        "/api/projects/", {"name": "Bad", "skeleton": skeleton}, format="json"
    )
    assert response.status_code == 400
    assert field in str(response.json())
    assert Project.objects.count() == before


@pytest.mark.django_db
def test_rename_keeps_ids_and_reorder_keeps_ids(project, users, as_user):
    url = f"/api/projects/{project.pk}/skeleton/"
    skeleton = as_user("pi").get(url).json()
    ids = {b["name"]: b["id"] for b in skeleton["bodyparts"]}
    parts = [
        {"id": ids["tailbase"], "name": "tail_base"},
        {"id": ids["snout"], "name": "nose"},
        {"id": ids["leftear"], "name": "rightear"},
        {"id": ids["rightear"], "name": "leftear"},
    ]
    response = as_user("pi").put(
        url, {"bodyparts": parts, "pairs": [["leftear", "rightear"]]}, format="json"
    )
    assert response.status_code == 200, response.json()
    after = {b["name"]: b["id"] for b in response.json()["bodyparts"]}
    assert after == {
        "tail_base": ids["tailbase"],
        "nose": ids["snout"],
        "rightear": ids["leftear"],
        "leftear": ids["rightear"],
    }
    assert [b["name"] for b in response.json()["bodyparts"]] == [
        "tail_base",
        "nose",
        "rightear",
        "leftear",
    ]


@pytest.mark.django_db
def test_removing_a_bodypart_must_be_explicit(project, users, as_user):
    url = f"/api/projects/{project.pk}/skeleton/"
    skeleton = as_user("pi").get(url).json()
    kept = [b for b in skeleton["bodyparts"] if b["name"] != "tailbase"]
    response = as_user("pi").put(url, {"bodyparts": kept}, format="json")
    assert response.status_code == 400
    assert "tailbase" in str(response.json())
    assert BodyPart.objects.filter(project=project, name="tailbase").exists()
    response = as_user("pi").put(url, {"bodyparts": kept, "remove": ["tailbase"]}, format="json")
    assert response.status_code == 200
    assert not BodyPart.objects.filter(project=project, name="tailbase").exists()


@pytest.mark.django_db
def test_loop_settings_are_validated(project, users, as_user):
    url = f"/api/projects/{project.pk}/"
    assert (
        as_user("pi").patch(url, {"double_label_fraction": 1.5}, format="json").status_code == 400
    )
    assert (
        as_user("pi")
        .patch(url, {"acquisition_weights": {"entropy": -1}}, format="json")
        .status_code
        == 400
    )
    response = as_user("pi").patch(
        url,
        {
            "selection_strategy": "kmeans",
            "retrain_after_labels": 5,
            "acquisition_weights": {"entropy": 1.0},
        },
        format="json",
    )
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.selection_strategy == "kmeans" and project.retrain_after_labels == 5


@pytest.mark.django_db
def test_members_and_invitations(project, users, as_user, client):
    from tests.factories import UserFactory

    newcomer = UserFactory()
    r = as_user("pi").post(
        f"/api/projects/{project.pk}/members/",
        {"username": newcomer.username, "role": "reviewer"},
        format="json",
    )
    assert r.status_code == 201
    assert Membership.objects.get(user=newcomer, project=project).role == Role.REVIEWER
    invitation = (
        as_user("pi")
        .post(f"/api/projects/{project.pk}/invitations/", {"role": "annotator"}, format="json")
        .json()
    )
    path = invitation["url"].split("testserver")[-1]
    response = client.post(
        path, {"username": "invited", "password1": "a-Long-pass-77", "password2": "a-Long-pass-77"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(user__username="invited", project=project).role == Role.ANNOTATOR
    # An invitation works once.
    client.logout()
    again = client.post(
        path, {"username": "invited2", "password1": "a-Long-pass-77", "password2": "a-Long-pass-77"}
    )
    assert again.status_code == 404
    assert not Membership.objects.filter(user__username="invited2").exists()


@pytest.mark.django_db
def test_last_pi_cannot_be_removed(project, users, as_user):
    pi = Membership.objects.get(project=project, role=Role.PI)
    response = as_user("pi").delete(f"/api/projects/{project.pk}/members/{pi.pk}/")
    assert response.status_code == 400
    assert Membership.objects.filter(pk=pi.pk).exists()

"""The members page: adding someone says who got which role; a wrong name changes nothing."""

from __future__ import annotations

import pytest

from accounts.models import Membership
from tests.factories import UserFactory


@pytest.mark.django_db
def test_adding_a_member_confirms_user_and_role(users, project, client):
    newcomer = UserFactory(username="grace")
    client.force_login(users["pi"])
    response = client.post(f"/projects/{project.pk}/members/",
                           {"username": "grace", "role": "reviewer", "add_member": ""},
                           follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [f"grace now has the role Reviewer in {project.name}."]
    assert shown[0] in response.content.decode()
    assert Membership.objects.get(user=newcomer, project=project).role == "reviewer"


@pytest.mark.django_db
def test_unknown_user_is_an_error_and_adds_nobody(users, project, client):
    client.force_login(users["pi"])
    before = Membership.objects.filter(project=project).count()
    response = client.post(f"/projects/{project.pk}/members/",
                           {"username": "nobody", "role": "annotator", "add_member": ""})
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["No user named 'nobody'."]
    assert Membership.objects.filter(project=project).count() == before

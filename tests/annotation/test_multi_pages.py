"""The labeling and review pages hand their scripts the project's animal settings (issue 17)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

INDIVIDUALS_SCRIPT = re.compile(
    r'<script id="project-individuals" type="application/json">(.*?)</script>', re.S)


def html_as(users, role: str, project, name: str) -> str:
    client = Client()
    client.force_login(users[role])
    response = client.get(f"/projects/{project.pk}/{name}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(("name", "role"), [("label", "annotator"), ("review", "reviewer")])
def test_a_multi_animal_page_carries_the_count_names_and_animal_panel(project, users, name, role):
    # A name that would end a <script> if it were written out raw.
    project.max_animals = 2
    project.individuals = ["Anna", "Bo</script><b>"]
    project.save(update_fields=["max_animals", "individuals"])
    html = html_as(users, role, project, name)
    assert 'data-max-animals="2"' in html
    scripts = INDIVIDUALS_SCRIPT.findall(html)
    assert len(scripts) == 1 and json.loads(scripts[0]) == ["Anna", "Bo</script><b>"]
    assert 'id="instances"' in html and "Previous / next animal" in html


@pytest.mark.parametrize(("name", "role"), [("label", "annotator"), ("review", "reviewer")])
def test_a_single_animal_page_has_no_animal_panel(project, users, name, role):
    html = html_as(users, role, project, name)
    assert 'data-max-animals="1"' in html
    assert "project-individuals" not in html
    assert 'id="instances"' not in html and "Previous / next animal" not in html

"""The labeling and review pages: who may open them, and what they hand their scripts."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def page(project, name: str) -> str:
    return f"/projects/{project.pk}/{name}/"


def get_as(users, role: str | None, url: str):
    client = Client()
    if role is not None:
        client.force_login(users[role])
    return client.get(url)


@pytest.mark.parametrize("role", ["annotator", "pi", "staff"])
def test_labelers_open_the_label_page(project, users, role):
    assert get_as(users, role, page(project, "label")).status_code == 200


def test_reviewer_may_not_label(project, users):
    assert get_as(users, "reviewer", page(project, "label")).status_code == 403


@pytest.mark.parametrize("role", ["reviewer", "pi", "staff"])
def test_reviewers_open_the_review_page(project, users, role):
    assert get_as(users, role, page(project, "review")).status_code == 200


def test_annotator_may_not_review(project, users):
    assert get_as(users, "annotator", page(project, "review")).status_code == 403


@pytest.mark.parametrize("name", ["label", "review"])
@pytest.mark.parametrize("role", ["outsider", "other_pi"])
def test_outsiders_get_404(project, users, role, name):
    assert get_as(users, role, page(project, name)).status_code == 404


@pytest.mark.parametrize("name", ["label", "review"])
def test_anonymous_is_sent_to_login(project, users, name):
    response = get_as(users, None, page(project, name))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert page(project, name) in response["Location"]


def test_deleted_project_is_404(project, users):
    from django.utils import timezone

    project.deleted_at = timezone.now()
    project.save(update_fields=["deleted_at"])
    assert get_as(users, "annotator", page(project, "label")).status_code == 404


def test_label_page_hands_the_script_what_it_needs(project, users):
    response = get_as(users, "annotator", page(project, "label"))
    html = response.content.decode()
    assert 'id="label-app"' in html
    assert f'data-api="/api/projects/{project.pk}/"' in html
    assert f'data-project-id="{project.pk}"' in html
    assert 'data-role="annotator"' in html
    assert f'data-user="{users["annotator"].username}"' in html
    assert 'data-csrf-token="' in html
    assert 'data-confident="0.6"' in html
    assert 'data-autosave-ms="1500"' in html
    assert '<script type="module" src="/static/js/label/labeling.js"></script>' in html
    assert "/static/css/label.css" in html
    assert 'id="canvas"' in html and 'id="reason-dialog"' in html and 'id="help"' in html
    assert "csrftoken" in response.cookies


def test_review_page_hands_the_script_what_it_needs(project, users):
    html = get_as(users, "reviewer", page(project, "review")).content.decode()
    assert 'id="review-app"' in html
    assert f'data-api="/api/projects/{project.pk}/"' in html
    assert 'data-role="reviewer"' in html
    assert '<script type="module" src="/static/js/label/review.js"></script>' in html
    for action in ("accept", "correct", "reject"):
        assert f'data-action="{action}"' in html


@pytest.mark.parametrize("name", ["label", "review"])
def test_pages_have_no_inline_script_or_style(project, users, name):
    """A Content-Security-Policy without 'unsafe-inline' must not break the workspaces."""
    html = get_as(users, "pi", page(project, name)).content.decode()
    assert "<style" not in html
    assert " style=" not in html
    assert " on" + "click=" not in html
    for chunk in html.split("<script")[1:]:
        opening = chunk.split(">", 1)[0]
        assert "src=" in opening or 'type="application/json"' in opening, opening


def test_help_lists_every_labeling_key(project, users):
    html = get_as(users, "annotator", page(project, "label")).content.decode()
    help_html = html.split('id="help"', 1)[1]
    for key in ("<kbd>o</kbd>", "<kbd>x</kbd>", "<kbd>s</kbd>", "<kbd>f</kbd>", "<kbd>a</kbd>",
                "<kbd>c</kbd>", "<kbd>Enter</kbd>", "<kbd>Ctrl+Z</kbd>", "<kbd>Ctrl+Y</kbd>",
                "<kbd>Tab</kbd>", "<kbd>1</kbd>", "<kbd>?</kbd>"):
        assert key in help_html, key

"""GET /api/projects/<id>/dashboard/ and the page: who may read them, and what they hold."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import EntryStatus, QueueReason
from dashboards.queries import project_dashboard
from tests.annotation.factories import FrameFactory, LabelFactory, QueueEntryFactory
from tests.dashboards.factories import version

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/projects/{project.pk}/dashboard/"


@pytest.mark.parametrize("role, expected", [
    ("pi", 200), ("reviewer", 200), ("staff", 200), ("annotator", 403), ("outsider", 404),
    ("other_pi", 404), (None, 401)])
def test_api_access(project, as_user, role, expected):
    assert as_user(role).get(url(project)).status_code == expected


def test_api_returns_the_same_numbers(project, as_user):
    for n, err in [(10, 10.0), (20, 9.6), (30, 9.2)]:
        version(project, n_labels=n, test_rmse=err, current=n == 30,
                per_bodypart_test_rmse_px={"snout": err})
    QueueEntryFactory(frame=FrameFactory(project=project), reason=QueueReason.DIVERSITY)
    LabelFactory(project=project, frame=FrameFactory(project=project), seconds_spent=12.0)
    body = as_user("reviewer").get(url(project)).json()
    assert body["models"]["trend"]["slope_px_per_10_labels"] == pytest.approx(-0.4)
    assert "still falling ~0.4 px per 10 labels" in body["models"]["trend"]["hint"]
    assert [p["n_labels"] for p in body["models"]["curve"]] == [10, 20, 30]
    assert body["models"]["bodyparts"][0] == {"name": "snout", "test_rmse_px": 9.2,
                                             "train_rmse_px": None, "agreement_px": None}
    assert body["operations"]["queue"] == [
        {"reason": "diversity", "label": "Diversity", "open": 1, "leased": 0}]
    assert body["labeling"]["annotators"][0]["median_seconds"] == 12.0
    assert body["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]


def test_api_schema_documents_the_dashboard(as_user, users):
    response = as_user("pi").get("/api/schema/?format=json")
    assert response.status_code == 200
    operation = json.loads(response.content)["paths"][
        "/api/projects/{project_id}/dashboard/"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "trend" in schema["properties"]["models"]["properties"]


def test_dashboard_only_reads(project):
    version(project, n_labels=10, test_rmse=5.0, current=True)
    QueueEntryFactory(frame=FrameFactory(project=project), reason=QueueReason.MANUAL,
                      status=EntryStatus.DONE)
    with CaptureQueriesContext(connection) as queries:
        project_dashboard(project)
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


def page_as(users, role):
    client = Client()
    if role is not None:
        client.force_login(users[role])
    return client


@pytest.mark.parametrize("role, expected", [
    ("pi", 200), ("reviewer", 200), ("staff", 200), ("annotator", 403), ("outsider", 404)])
def test_page_access(project, users, role, expected):
    response = page_as(users, role).get(f"/projects/{project.pk}/dashboard/")
    assert response.status_code == expected


def test_page_sends_anonymous_users_to_log_in(project):
    response = Client().get(f"/projects/{project.pk}/dashboard/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_page_embeds_the_numbers_without_inline_scripts(project, users):
    version(project, n_labels=10, test_rmse=5.0, current=True)
    html = page_as(users, "pi").get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert '<script id="dashboard-data" type="application/json">' in html
    assert "vendor/plotly/plotly-cartesian-4.1.1.min.js" in html
    assert "style=" not in html
    # Every script is either the JSON island or an external file.
    for tag in html.split("<script")[1:]:
        head = tag.split(">", 1)[0]
        assert 'src="' in head or 'type="application/json"' in head

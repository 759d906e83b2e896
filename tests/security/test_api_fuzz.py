"""Schemathesis against /api/schema/: every operation, fuzzed as a PI with a token: no 5xx.

Path parameters named `project_id` are pinned to the fixture project (random ids would only
ever reach the 404 of the access check); everything else is generated from the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token

from poseloop.wsgi import application

EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def wsgi_keeps_connection():
    """The raw WSGI app closes DB connections per request; Django's test Client avoids that
    the same way: by disconnecting close_old_connections for the duration."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_no_operation_answers_5xx(wsgi_keeps_connection, project, users, monkeypatch):
    # Start-ups of long jobs are queued, not run: the fuzz is about the HTTP layer.
    from poseloop.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *a, **k: None)
    cache.clear()
    token = Token.objects.create(user=users["pi"]).key
    schema = schemathesis.from_wsgi("/api/schema/", application,
                                    headers={"Authorization": f"Token {token}"})
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:
            if case.path_parameters and "project_id" in case.path_parameters:
                case.path_parameters["project_id"] = project.pk
            response = case.call_wsgi(headers={"Authorization": f"Token {token}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: "
                                f"{response.status_code} {case.body!r:.200}")

        check()
    cache.clear()
    assert not failures, "\n".join(sorted(set(failures))[:30])

"""CSRF on session writes, the CSP header, login throttling, and `check --deploy`."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pass-word-123"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


# --- (b) CSRF ------------------------------------------------------------------------------

def _csrf_token(client) -> str:
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body"), [
    ("patch", "/api/projects/{p}/", {"description": "x"}),
    ("post", "/api/projects/{p}/invitations/", {"role": "annotator"}),
    ("delete", "/api/projects/{p}/?confirm=nope", None),
    ("post", "/api/projects/", {"name": "csrf", "skeleton": {"bodyparts": [{"name": "a"}]}}),
])
def test_session_writes_to_the_api_need_the_csrf_token(method, path, body, project, users):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users["pi"])
    url = path.format(p=project.pk)
    refused = getattr(client, method)(url, body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    token = _csrf_token(client)
    accepted = getattr(client, method)(url, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code != 403, accepted.content


@pytest.mark.django_db
def test_token_authenticated_writes_need_no_csrf_token(project, users):
    from rest_framework.authtoken.models import Token

    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=users['pi']).key}")
    response = client.patch(f"/api/projects/{project.pk}/", {"description": "y"}, format="json")
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/projects/new/", "/projects/{p}/settings/",
                                  "/projects/{p}/models/train/", "/accounts/logout/"])
def test_page_forms_need_the_csrf_token(path, project, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["pi"])
    assert client.post(path.format(p=project.pk), {}).status_code == 403


# --- (c) CSP header ------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/projects/{p}/", "/projects/{p}/label/",
                                  "/projects/{p}/dashboard/", "/projects/{p}/models/",
                                  "/accounts/login/", "/api/projects/{p}/"])
def test_pages_send_a_strict_csp(path, project, users):
    client = Client()
    client.force_login(users["pi"])
    response = client.get(path.format(p=project.pk))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_templates_hold_no_inline_script_style_or_handler():
    """What the policy forbids must not be in the templates (a browser test checks pages too)."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", template.read_text(),
                      flags=re.S)
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<style\b", r"\sstyle=\"",
                        r"\son[a-z]+=\"", r"javascript:"):
            for match in re.finditer(pattern, text, flags=re.I):
                offenders.append(f"{template.relative_to(ROOT)}: {match.group(0)}")
    assert offenders == []


# --- (d) login throttling ------------------------------------------------------------------

@pytest.mark.django_db
def test_login_page_locks_out_after_the_failure_limit(users, settings):
    user = users["annotator"]
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/accounts/login/", {"username": user.username,
                                                    "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    locked = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert locked.status_code == 429
    # Even the right password is refused now, and no session is opened.
    right = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    # The lock is per (username, address): another user from the same address still logs in.
    other = Client()
    ok = other.post("/accounts/login/", {"username": users["pi"].username, "password": PASSWORD})
    assert ok.status_code == 302


@pytest.mark.django_db
def test_token_endpoint_honours_the_lockout(users, settings):
    user = users["annotator"]
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/auth/token/", {"username": user.username, "password": "wrong"})
    response = client.post("/api/auth/token/", {"username": user.username, "password": PASSWORD})
    # authenticate() turns the lockout into "unable to log in": no token either way.
    assert response.status_code in (400, 403, 429)
    assert "token" not in response.json()


@pytest.mark.django_db
def test_token_endpoint_is_rate_limited(users):
    from rest_framework.settings import api_settings

    limit = int(api_settings.DEFAULT_THROTTLE_RATES["token"].split("/")[0])
    client = APIClient()
    codes = [client.post("/api/auth/token/", {"username": f"nobody{i}", "password": "x"}
                         ).status_code for i in range(limit + 1)]
    assert codes[:limit] == [400] * limit
    assert codes[limit] == 429
    # Other API views are not throttled.
    client.force_authenticate(users["pi"])
    assert all(client.get("/api/projects/").status_code == 200 for _ in range(limit + 1))


# --- (e) check --deploy --------------------------------------------------------------------

def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POSELOOP_", "DATABASE", "DJANGO_ALLOW_ASYNC"))}
    env.update({"POSELOOP_HTTPS": "1", "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60),
                "POSELOOP_REQUIRE_SECRET_KEY": "1", "ALLOWED_HOSTS": "poseloop.example.org",
                "CSRF_TRUSTED_ORIGINS": "https://poseloop.example.org",
                "POSELOOP_VAR_DIR": str(tmp_path)})
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                             "--fail-level", "WARNING"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

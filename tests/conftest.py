"""Fixtures shared by the whole suite: users in every role, a project, synthetic videos."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

SHARED_DATA = Path(
    os.environ.get("POSELOOP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def pytest_collection_modifyitems(config, items):
    """Database-specific tests run on their database only: deselected (not skipped) elsewhere.

    CI runs the suite twice, on PostgreSQL and on SQLite, so each of them runs somewhere. Tests
    marked `cuda` are skipped where PyTorch sees no CUDA GPU.
    """
    from django.conf import settings

    vendor = "postgres" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"
    other = "sqlite" if vendor == "postgres" else "postgres"
    once = os.environ.get("POSELOOP_TESTS_DATABASE_ONLY") == "1"
    keep = [item for item in items if item.get_closest_marker(other) is None
            and not (once and not uses_database(item))]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    gpu_tests = [item for item in items if item.get_closest_marker("cuda") is not None]
    if gpu_tests:
        import torch

        if not torch.cuda.is_available():
            for item in gpu_tests:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def uses_database(item) -> bool:
    """Whether a test touches the database or the stack (directly or through its fixtures).

    `.ci/run`'s second pass (SQLite after PostgreSQL) sets POSELOOP_TESTS_DATABASE_ONLY=1 and
    runs only these: the others (the engine, geometry, formats…) do not depend on the
    database and ran in the first pass, as did those marked `compute` (training or inference
    time with incidental database use). `make test` alone runs everything."""
    if item.get_closest_marker("compute") is not None:
        return False
    return (item.get_closest_marker("django_db") is not None
            or item.get_closest_marker("system") is not None
            or bool({"db", "transactional_db", "live_server", "live"}
                    & set(getattr(item, "fixturenames", ()))))


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path_factory):
    """Every test writes media into its own folder and runs Celery tasks eagerly."""
    media = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(media)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Hashing real passwords costs ~0.3 s a user; tests need no real hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from poseloop.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def shared_data() -> Path:
    """The real DeepLabCut example data (POSELOOP_SHARED_DATA); skips where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set POSELOOP_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def project(db):
    return ProjectFactory()


@pytest.fixture
def users(project):
    """One user per role around `project`, plus an outsider, a PI of another project, staff."""
    other = ProjectFactory()
    people = {
        "pi": MembershipFactory(project=project, role=Role.PI).user,
        "annotator": MembershipFactory(project=project, role=Role.ANNOTATOR).user,
        "reviewer": MembershipFactory(project=project, role=Role.REVIEWER).user,
        "other_pi": MembershipFactory(project=other, role=Role.PI).user,
        "outsider": UserFactory(),
        "staff": UserFactory(is_staff=True),
    }
    return people


@pytest.fixture
def api():
    """An API client; call api.force_authenticate(user) or use `as_user`."""
    return APIClient()


@pytest.fixture
def as_user(users):
    """as_user("pi") → an APIClient authenticated as that role's user (None: anonymous)."""

    def make(role: str | None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.force_authenticate(users[role])
        return client

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One Chromium for the whole session (e2e and system tests): Playwright's sync API runs
    one event loop per thread, so a second `sync_playwright()` in the same run would fail."""
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: apt-get install -y chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still synchronous, so Django's async guard must stand aside.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()

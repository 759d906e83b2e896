"""System tests: the real stack (gunicorn, a Celery worker, Celery beat as separate processes,
started by `poseloop.stack` exactly as `make run` starts them, no eager Celery), driven only
over HTTP and in Chromium.

The stack gets its own var dir and, on PostgreSQL + Redis (DATABASE_URL / CELERY_BROKER_URL
set, as in `.ci/run`'s first pass), its own database and Redis databases; otherwise SQLite and
the filesystem broker, as a lab without servers runs it. A failing test prints the last lines
of every process's log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from poseloop.loop_client import Client
from poseloop.stack import Stack, free_port, isolated_services, manage

PI_PASSWORD = "pi-pass-word-9"
# Seconds of training per model: enough for a usable model on the small synthetic video.
TRAIN_MINUTES = "0.25"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "system: starts the real stack (gunicorn, Celery worker and beat); minutes")


@dataclass
class Live:
    stack: Stack
    env: dict[str, str]
    pi: Client
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.stack.url


def prepared_stack(var_dir, env: dict[str, str], worker_name: str) -> Stack:
    """A migrated database with the PI's account, and the (not yet started) stack on it.

    The lab's first account is made by an admin on the server; everything after this goes
    over HTTP."""
    manage(["migrate", "--noinput"], env)
    manage(["shell", "-c", "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user('pi', password='{PI_PASSWORD}')"], env)
    return Stack(var_dir=var_dir, port=free_port(), env=env, log_dir=var_dir / "logs",
                 worker_name=worker_name)


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[Live]:
    var_dir = tmp_path_factory.mktemp("stack-var")
    with isolated_services(var_dir, name=f"poseloop_system_{os.getpid()}") as env:
        env.update({"POSELOOP_TRAIN_MINUTES": TRAIN_MINUTES, "CELERY_TASK_ALWAYS_EAGER": "",
                    "DJANGO_SETTINGS_MODULE": "poseloop.settings",
                    # Chunks of 32 frames, so the 90-frame video fans out in three.
                    "POSELOOP_ANALYSIS_KEYFRAME_INTERVAL": "32",
                    # One thread per worker process, so training and scoring don't fight over
                    # the two cores with gunicorn and the browser.
                    "OMP_NUM_THREADS": "1"})
        stack = prepared_stack(var_dir, env, "system@%h")
        try:
            stack.start(wait_s=120)
            yield Live(stack, env, Client.login(stack.url, "pi", PI_PASSWORD))
        finally:
            stack.stop()


def log_in(browser, live: Live, username: str, password: str, next_url: str):
    """A new browser context logged in through the login form, on `next_url`; returns
    (context, page, page errors seen)."""
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    context.set_default_timeout(30000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{next_url.lstrip('/')}")
    return context, page, errors


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    live = item.funcargs.get("live") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(live, Live):
        report.sections.append(("stack logs", live.stack.log_tail(80)))
    return report

"""Django and a real Celery worker start, and the worker runs a task sent through the broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.models import WorkerHeartbeat
from jobs.tasks import heartbeat

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
def test_worker_consumes_a_task_from_the_broker(tmp_path, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from poseloop.celery import app

    app.conf.task_always_eager = False
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
            "DATABASE_URL": _database_url(),
            "POSELOOP_VAR_DIR": str(settings.VAR_DIR),
        }
    )
    connection.close()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "poseloop",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "default,training",
            "-n",
            "pytest-worker@%h",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    beats = WorkerHeartbeat.objects.filter(hostname__startswith="pytest-worker@")
    long_ago = timezone.now() - timedelta(days=1)
    try:
        # The worker records its own heartbeat when ready (jobs.worker), with its queues…
        queues = _wait_for(worker, lambda: beats.values_list("queues", flat=True).first())
        beats.update(seen_at=long_ago)
        # …and a heartbeat task sent through the broker refreshes it at once.
        heartbeat.apply_async(queue="default")
        refreshed = _wait_for(worker, lambda: beats.filter(seen_at__gt=long_ago).exists())
        alive = worker.poll() is None
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
        app.conf.task_always_eager = True
    assert alive, output
    assert queues == ["default", "training"], output
    assert refreshed, output


def _wait_for(worker: subprocess.Popen, condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and worker.poll() is None:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    return None

"""Django and a real Celery worker start, and the worker runs a task sent through the broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

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
            "default",
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
    try:
        heartbeat.apply_async(queue="default")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if WorkerHeartbeat.objects.filter(hostname__startswith="pytest-worker@").exists():
                break
            time.sleep(0.5)
        alive = worker.poll() is None
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
        app.conf.task_always_eager = True
    assert alive, output
    assert WorkerHeartbeat.objects.filter(hostname__startswith="pytest-worker@").exists(), output

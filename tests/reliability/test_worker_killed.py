"""(j) A Celery worker SIGKILLed in the middle of a frame extraction loses nothing silently.

The job is left `running` by the dead worker; `running()` would refuse to run it twice if the
message came back, so the reaper (jobs/reaper.py) marks it failed with a message. Every frame
row that exists has its image (extraction commits frame by frame), and no model or pose
table appears.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from jobs.models import Job, JobStatus
from jobs.reaper import reap_stale_jobs
from learning.models import CurrentModel, ModelVersion
from tests.platform_apps.test_stack_starts import _database_url
from tests.videofactory import make_video
from videos.extraction import Strategy
from videos.ingest import add_video
from videos.models import Frame
from videos.services import start_extraction

ROOT = Path(__file__).resolve().parents[2]


def _start_worker(settings) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
                "DATABASE_URL": _database_url(), "POSELOOP_VAR_DIR": str(settings.VAR_DIR),
                "MEDIA_ROOT": str(settings.MEDIA_ROOT)})
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "poseloop", "worker", "--pool", "solo",
         "-Q", "default", "-n", f"kill-test-{os.getpid()}@%h", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_leaves_a_failed_job_and_whole_frames(project, tmp_path, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from poseloop.celery import app

    app.conf.task_always_eager = False
    clip = make_video(tmp_path, n_frames=400, width=320, height=240)
    video = add_video(project, clip.path, name="long.mp4")
    connection.close()
    worker = _start_worker(settings)
    try:
        job = start_extraction(video, Strategy.UNIFORM, 300)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and worker.poll() is None:
            job.refresh_from_db()
            if job.status == JobStatus.RUNNING and Frame.objects.filter(video=video).exists():
                break
            time.sleep(0.2)
        assert job.status == JobStatus.RUNNING, (job.status, job.message)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-way: some frames written, not all
        worker.wait(timeout=30)
    finally:
        app.conf.task_always_eager = True
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
    time.sleep(1)
    job.refresh_from_db()
    written = Frame.objects.filter(video=video).count()
    assert job.status == JobStatus.RUNNING and 0 < written < 300  # not silently "succeeded"

    assert reap_stale_jobs(stale_after=timedelta(minutes=5)) == []  # it may still be alive
    assert reap_stale_jobs(now=job.updated_at + timedelta(minutes=21)) == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.message.startswith("Worker lost")
    # Every frame the dead worker left is whole: row and image together.
    for frame in Frame.objects.filter(video=video):
        assert default_storage.exists(frame.image.name)
    assert not ModelVersion.objects.filter(project=project).exists()
    assert not CurrentModel.objects.filter(project=project).exists()
    # The reaper leaves live jobs alone.
    fresh = Job.objects.create(project=project, kind="extract_frames", status="running")
    assert fresh.pk not in reap_stale_jobs()


@pytest.mark.django_db
def test_stale_training_never_becomes_current(project):
    """A training whose worker died: its job is reaped, its version failed, not promoted."""
    from learning.training.runs import reap_stale
    from tests.learning.helpers import make_version

    version = make_version(project, status="training", with_job=True, checkpoint=False)
    Job.objects.filter(pk=version.job_id).update(status=JobStatus.RUNNING)
    later = version.job.updated_at + timedelta(minutes=21)
    assert reap_stale_jobs(now=later) == [version.job_id]
    assert reap_stale(project.pk, now=later) == 1
    version.refresh_from_db()
    assert version.status == "failed"
    assert not CurrentModel.objects.filter(project=project).exists()

"""A job whose message was lost is shown as stuck and a PI's retry runs it, on the real stack.

The worker is stopped, a PI asks for a frame extraction, the broker's queues are purged (the
message is lost, as when a broker restarts without persistence), the worker comes back: the
job stays queued, the API calls it stuck with a reason, and `POST jobs/<id>/retry/` sends the
task again through the broker to the restarted worker, which runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from poseloop.loop_client import Client, wait_for
from poseloop.stack import ROOT, Stack, isolated_services, stack_env
from tests.system.conftest import PI_PASSWORD, prepared_stack
from videos.synthetic import BODYPARTS, generate_video

pytestmark = [pytest.mark.system]


def test_a_lost_job_is_stuck_and_a_retry_runs_it(tmp_path):
    # Its own Redis databases: the loop tests' stack (session-scoped) may still be running.
    with isolated_services(tmp_path, name=f"poseloop_system_stuck_{os.getpid()}",
                           redis_dbs=(14, 15)) as env:
        env.update({"POSELOOP_JOB_STUCK_AFTER_S": "3", "OMP_NUM_THREADS": "1"})
        stack = prepared_stack(tmp_path, env, "stuck@%h")
        try:
            stack.start(wait_s=120)
            _lose_a_job_and_retry_it(stack, env, tmp_path)
        except BaseException:
            print(stack.log_tail(60))
            raise
        finally:
            stack.stop()


def _lose_a_job_and_retry_it(stack: Stack, env: dict[str, str], tmp_path: Path) -> None:
    pi = Client.login(stack.url, "pi", PI_PASSWORD)
    pid = pi.create_project("Stuck mice", [{"name": n} for n in BODYPARTS], [], [])["id"]
    video = pi.upload_video(pid, generate_video(tmp_path / "clip.mp4", n_frames=30).path)

    stack.stop_process("worker")
    job = pi.post(f"projects/{pid}/videos/{video['id']}/extract/",
                  {"strategy": "uniform", "n": 4}, expect=(202,))
    subprocess.run([sys.executable, "-m", "celery", "-A", "poseloop", "purge", "-f",
                    "-Q", "default,training,inference"], cwd=ROOT, env=stack_env(env),
                   check=True, capture_output=True, timeout=120)
    stack.start_process("worker")
    stack.registered_tasks()  # the worker is up again

    stuck = wait_for("the job to be called stuck", lambda: (
        lambda j: j if j["stuck"] else None)(pi.get(f"projects/{pid}/jobs/{job['id']}/")),
        timeout_s=60)
    assert stuck["status"] == "queued" and stuck["stuck_reason"], stuck
    assert pi.get(f"projects/{pid}/frames/")["count"] == 0

    pi.post(f"projects/{pid}/jobs/{job['id']}/retry/", expect=(200, 202))
    done = pi.wait_job(pid, job["id"], timeout_s=120)
    assert done["status"] == "succeeded"
    assert pi.get(f"projects/{pid}/frames/")["count"] == 4
    assert pi.get(f"projects/{pid}/jobs/{job['id']}/")["stuck"] is False

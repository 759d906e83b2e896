"""`make run`'s command on a fresh var dir: demo project, web + worker + beat, URL and logins."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from poseloop.stack import ROOT, free_port, isolated_services, stack_env

pytestmark = [pytest.mark.system]


def test_up_builds_the_demo_starts_the_stack_and_prints_url_and_logins(tmp_path):
    port = free_port()
    with isolated_services(tmp_path, name="poseloop_system_up") as env:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "up", "--check", "--port", str(port)],
            cwd=ROOT, env=stack_env(env), capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    logins = json.loads((tmp_path / "demo-logins.json").read_text())
    assert set(logins) == {"admin", "pi", "annotator", "annotator2", "reviewer"}
    assert f"PoseLoop is running at http://127.0.0.1:{port}/" in done.stdout
    for name, password in logins.items():
        assert f"{name}" in done.stdout and password in done.stdout

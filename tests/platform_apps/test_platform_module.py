"""`platform/` must never shadow the standard library's `platform` module."""

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_platform_is_the_standard_library_in_the_test_process():
    import platform

    assert Path(platform.__file__).parent == Path(sysconfig.get_paths()["stdlib"])
    assert platform.system()  # the call the standard uuid module makes


def test_platform_folder_is_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_platform_is_the_standard_library_inside_manage_py():
    code = "import platform, celery, django; print(platform.__file__); print(platform.system())"
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert Path(out[-2]).parent == Path(sysconfig.get_paths()["stdlib"])
    assert out[-1]


def test_celery_app_loads_with_platform_on_path():
    code = (
        "import sys; sys.path[:0] = ['.', 'platform']; import platform; "
        "from poseloop.celery import app; app.loader.import_default_modules(); "
        "print(platform.system(), sorted(t for t in app.tasks if not t.startswith('celery.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Linux")  # the standard library's platform module
    for task in ("videos.tasks.extract_frames_task", "jobs.tasks.heartbeat",
                 "learning.tasks.train_model_task", "cameras.tasks.triangulate_session_task"):
        assert task in result.stdout

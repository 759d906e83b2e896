"""docker/ and settings stay in step: every setting is documented, compose has every service."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_in_env_example():
    settings_text = (ROOT / "platform" / "poseloop" / "settings.py").read_text()
    used = set(re.findall(r'env_(?:str|bool|int|float|list)\(\s*"([A-Z0-9_]+)"', settings_text))
    example = (ROOT / "docker" / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, flags=re.M))
    assert used, "settings read no environment variables?"
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


def test_compose_has_the_stack_and_a_gpu_training_worker():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "training-worker", "postgres", "redis"} <= set(services)
    training = services["training-worker"]
    assert "training" in training["command"]
    devices = training["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    worker = services["worker"]["command"]
    assert "training" not in worker[worker.index("-Q") + 1]


def test_every_app_service_shares_broker_cache_and_result_backend():
    """The training worker's own `environment:` must not drop what the anchor sets."""
    services = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())["services"]
    for name in ("migrate", "web", "worker", "training-worker", "beat"):
        env = services[name]["environment"]
        assert {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"} <= set(env), name
        assert env["CELERY_RESULT_BACKEND"].startswith("redis://"), name
    assert services["training-worker"]["environment"]["POSELOOP_DEVICE"] == "cuda"


def test_image_installs_the_runtime_dependencies_and_not_the_dev_extra():
    """What production imports is [project].dependencies (checked by `make deps`: deptry)."""
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    installs = re.findall(r'pip install "?\.(\[[a-z0-9,]*\])?"?', dockerfile)
    assert installs and all("dev" not in extra for extra in installs)
    assert any("s3" in extra for extra in installs)


def test_settings_fail_loudly_on_bad_values(monkeypatch):
    from poseloop.env import ConfigError, env_bool, env_int

    monkeypatch.setenv("X_BOOL", "maybe")
    monkeypatch.setenv("X_INT", "ten")
    for reader, name in ((env_bool, "X_BOOL"), (env_int, "X_INT")):
        try:
            reader(name, 0)
        except ConfigError as exc:
            assert name in str(exc)
        else:
            raise AssertionError(f"{name} was accepted")


def test_production_settings_are_safe(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "POSELOOP_HTTPS": "1", "SECRET_KEY": "x" * 60, "DEBUG": "0",
           "POSELOOP_VAR_DIR": str(tmp_path), "ALLOWED_HOSTS": "poseloop.example.org"}
    env.pop("DATABASE_URL", None)
    code = ("from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT)")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out[-5:] == ["False", "True", "True", "True", "True"]


def test_default_database_is_sqlite_in_wal_mode(tmp_path):
    """Without DATABASE_URL the platform runs on a SQLite file in WAL mode with a busy timeout."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "POSELOOP_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    code = ("from django.db import connection as c; cur = c.cursor(); "
            "cur.execute('PRAGMA journal_mode'); print(c.vendor, cur.fetchone()[0], "
            "c.settings_dict['OPTIONS']['timeout'])")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out[-3:] == ["sqlite", "wal", "30"]
    assert (tmp_path / "poseloop.sqlite3").exists()


def test_the_gpu_checks_call_benchmarks_with_options_they_have():
    """`.ci/gpu-checks` runs only on GPU machines (never in CI): its bench command lines must
    still parse, so that a renamed option fails here and not during a short GPU lease."""
    from django.core.management import load_command_class

    script = (ROOT / ".ci" / "gpu-checks").read_text().replace("\\\n", " ")
    command = load_command_class("poseloop", "bench")
    parser = command.create_parser("manage.py", "bench")
    lines = [line for line in script.splitlines() if "manage.py bench " in line]
    assert {line.split("manage.py bench ")[1].split()[0] for line in lines} == {
        "train", "infer", "distill"}
    for line in lines:
        args = line.split("manage.py bench ")[1].split(">")[0].replace('"', "").split()
        args = [re.sub(r"\$\{?\w+(:-([^}]*))?\}?", lambda m: m.group(2) or "x", a) for a in args]
        parser.parse_args(args)  # SystemExit (a failed test) on an unknown option


def test_the_gpu_checks_run_every_file_that_holds_cuda_tests():
    script = (ROOT / ".ci" / "gpu-checks").read_text()
    holding = {str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")
               if re.search(r"^(@|pytestmark = )pytest\.mark\.cuda$", path.read_text(), re.M)}
    assert holding and all(name in script for name in holding), sorted(holding)

"""`python manage.py up`: migrate, build the demo, run web server + Celery worker + beat."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

ROOT = Path(settings.BASE_DIR)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "platform"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    # Idle OpenMP threads sleep instead of spinning: on a shared CPU spinning costs 4x.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def processes(host: str, port: int, concurrency: int) -> dict[str, list[str]]:
    """The commands of the stack; each runs with platform/ on PYTHONPATH."""
    bin_dir = Path(sys.executable).parent
    return {
        "web": [
            str(bin_dir / "gunicorn"),
            "poseloop.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "600",
            "--access-logfile",
            "-",
        ],
        "worker": [
            str(bin_dir / "celery"),
            "-A",
            "poseloop",
            "worker",
            "-l",
            "info",
            "-Q",
            "default,training,inference",
            "-c",
            str(concurrency),
        ],
        "beat": [
            str(bin_dir / "celery"),
            "-A",
            "poseloop",
            "beat",
            "-l",
            "info",
            "--schedule",
            str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
        ],
    }


class Command(BaseCommand):
    help = "Run PoseLoop locally: migrations, demo project, web server, Celery worker and beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")
        parser.add_argument("--no-demo", action="store_true")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Start everything, wait until the site answers, then stop.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_demo"]:
            call_command("demo", stdout=self.stdout)
        children = {
            name: subprocess.Popen(cmd, cwd=ROOT, env=_env())
            for name, cmd in processes(
                options["host"], options["port"], options["concurrency"]
            ).items()
        }
        url = f"http://{options['host']}:{options['port']}/"
        try:
            self._wait_until_up(url, children)
            self._banner(url)
            if options["check"]:
                return
            while all(p.poll() is None for p in children.values()):
                time.sleep(1)
            dead = [n for n, p in children.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; shutting down the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            for p in children.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in children.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()

    def _wait_until_up(self, url: str, children: dict[str, subprocess.Popen]) -> None:
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in children.values()):
                raise SystemExit("a process of the stack exited during start-up; see above")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"{url} did not answer within 60 s")

    def _banner(self, url: str) -> None:
        logins_path = Path(settings.VAR_DIR) / "demo-logins.json"
        logins = json.loads(logins_path.read_text()) if logins_path.exists() else {}
        lines = [
            f"PoseLoop is running at {url}",
            f"API docs: {url}api/docs/",
            "Logins (user / password):",
        ]
        lines += [f"  {name:11s} {password}" for name, password in logins.items()]
        lines.append("Press Ctrl+C to stop.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

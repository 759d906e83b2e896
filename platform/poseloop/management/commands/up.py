"""`python manage.py up`: migrate, build the demo, run web server + Celery worker + beat."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from poseloop.stack import Stack


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
        stack = Stack(var_dir=Path(settings.VAR_DIR), host=options["host"],
                      port=options["port"], concurrency=options["concurrency"])
        try:
            try:
                stack.start()
            except RuntimeError as exc:
                raise SystemExit(f"{exc}; see above") from None
            self._banner(stack.url)
            if options["check"]:
                return
            while not stack.dead():
                time.sleep(1)
            self.stderr.write(f"{', '.join(stack.dead())} stopped; shutting down the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            stack.stop()

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

"""Make a fast model: distil a model version of a project into a small student version."""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from jobs.models import Job
from learning.engine.config import BACKBONES
from learning.errors import Conflict
from learning.models import ModelVersion
from learning.training.distill import start_distillation
from learning.training.registry import current_version
from projects.models import Project

POLL_S = 2.0


class Command(BaseCommand):
    help = ("Distil a model (current, or --version N) into a fast student model; runs here with "
            "progress (or --queue: for a worker). Prints the student's figures last.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project name.")
        parser.conflict_handler = parser._optionals.conflict_handler = "resolve"
        parser.add_argument("--version", type=int, help="Teacher's iteration (default: current).")
        parser.add_argument("--minutes", type=float, help="Student training budget.")
        parser.add_argument("--backbone", choices=BACKBONES, help="Student backbone.")
        parser.add_argument("--head-channels", type=int)
        parser.add_argument("--input-scale", type=float, help="Default: the teacher's.")
        parser.add_argument("--frames", type=int, help="Video frames the teacher labels.")
        parser.add_argument("--queue", action="store_true",
                            help="Only queue the job for a training worker.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=options["project"], deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        teacher = (current_version(project) if options["version"] is None else
                   ModelVersion.objects.filter(project=project,
                                               iteration=options["version"]).first())
        if teacher is None:
            raise CommandError("No such model (train one, or give --version).")
        keys = {"backbone": "backbone", "head_channels": "head_channels",
                "input_scale": "input_scale", "frames": "frames"}
        opts = {key: options[name] for name, key in keys.items() if options.get(name) is not None}
        try:
            version = start_distillation(teacher, minutes=options.get("minutes"), options=opts,
                                         dispatch=bool(options["queue"]))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except Conflict as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"Fast model {version.iteration} of model {teacher.iteration}: "
                          f"job {version.job_id}")
        if options["queue"]:
            return
        self._run_here(version)

    def _run_here(self, version: ModelVersion) -> None:
        """Run the job's task in this process, printing the job's progress as it moves."""
        from learning.tasks import distill_model_task

        failure: list[BaseException] = []

        def work() -> None:
            try:
                distill_model_task(version.pk, version.job_id)
            except BaseException as exc:  # shown below, after the progress lines
                failure.append(exc)
            finally:
                connection.close()  # this thread's own database connection

        thread = threading.Thread(target=work, name="distill")
        thread.start()
        last = None
        while thread.is_alive():
            thread.join(POLL_S)
            job = Job.objects.filter(pk=version.job_id).values("progress", "message").first()
            if job and (job["progress"], job["message"]) != last:
                last = (job["progress"], job["message"])
                self.stdout.write(f"{100 * job['progress']:5.1f} % {job['message']}")
        version.refresh_from_db()
        if failure:
            raise CommandError(f"Distillation failed: {failure[0]}")
        self.stdout.write(f"{version.status}: {version.message}")

"""Export a project's consensus labels as a DeepLabCut, COCO or SLEAP dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.exchange.exporting import DEFAULT_SCORER, FORMATS, write_dataset
from learning.formats.errors import FormatError
from projects.models import Project


class Command(BaseCommand):
    help = "Write a project's labeled frames and consensus labels as a dataset folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--format", choices=FORMATS, default="dlc")
        parser.add_argument("--out", required=True, help="Folder to write (empty or new).")
        parser.add_argument("--scorer", default=DEFAULT_SCORER, help="DeepLabCut scorer name.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=options["project"], deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        out = Path(options["out"])
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} exists and is not an empty folder.")

        def progress(fraction: float, message: str) -> None:
            self.stdout.write(f"  {fraction:4.0%} {message}")

        try:
            path, n_frames = write_dataset(
                project, options["format"], out, scorer=options["scorer"], progress=progress
            )
        except FormatError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Exported {n_frames} labeled frame(s) of {project.name!r}: {path}")
        )

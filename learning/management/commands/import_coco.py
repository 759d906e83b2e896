"""Import COCO keypoints (one category, one animal per image) into a PoseLoop project."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.exchange.importing import import_coco
from learning.formats.errors import FormatError
from learning.management.cli import optional_user, progress_printer
from projects.models import Project


class Command(BaseCommand):
    help = (
        "Import a COCO keypoints JSON file and its images into a project. With --create, a "
        "missing project is created from the COCO category. Idempotent and all-or-nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("json_path")
        parser.add_argument("--images", required=True, help="Folder the file_name paths are in.")
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--create", action="store_true", help="Create the project if new.")
        parser.add_argument("--pi", help="Username who becomes PI of a newly created project.")

    def handle(self, *args: Any, **options: Any) -> None:
        target: Project | str | None = Project.objects.filter(
            name=options["project"], deleted_at__isnull=True
        ).first()
        if target is None:
            if not options["create"]:
                raise CommandError(f"No project named {options['project']!r} (use --create).")
            target = options["project"]
        user = optional_user(options["pi"])
        progress = progress_printer(self.stdout)

        try:
            summary = import_coco(
                target, options["json_path"], options["images"], user=user, progress=progress
            )
        except FormatError as exc:
            raise CommandError(f"Nothing imported: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {summary.describe()}"))

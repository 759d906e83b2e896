"""Import a DeepLabCut project folder (config.yaml + labeled-data/) into a PoseLoop project."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.exchange.importing import run_dlc_import
from learning.formats.errors import FormatError
from learning.management.cli import optional_user, progress_printer


class Command(BaseCommand):
    help = (
        "Import a DeepLabCut project's labeled frames (or a Lightning Pose label folder: "
        "CollectedData.csv beside labeled-data/) into a project (created if new; body parts "
        "must match an existing one). Idempotent and all-or-nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dlc_project_dir")
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--pi", help="Username who becomes PI of a newly created project.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = optional_user(options["pi"])
        progress = progress_printer(self.stdout)

        try:
            summary = run_dlc_import(
                options["dlc_project_dir"],
                project_name=options["project"],
                user=user,
                progress=progress if options["verbosity"] >= 1 else None,
            )
        except FormatError as exc:
            raise CommandError(f"Nothing imported: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {summary.describe()}"))

"""`python manage.py backup FILE.tar.gz`: the database (JSON) and all media in one archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from poseloop.backups import create_backup


class Command(BaseCommand):
    help = "Back up the database and the media files into one .tar.gz (see poseloop/backups.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="where to write the .tar.gz")

    def handle(self, *args: Any, **options: Any) -> None:
        manifest = create_backup(options["archive"])
        self.stdout.write(f"backed up {manifest['objects']} objects and "
                          f"{manifest['media_files']} media files to {options['archive']}")

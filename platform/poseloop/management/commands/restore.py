"""`python manage.py restore FILE.tar.gz [--replace]`: load a backup made by `backup`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from poseloop.backups import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a backup archive into the (migrated) database and the media storage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument("--replace", action="store_true",
                            help="empty a database that already holds data, then load")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore_backup(options["archive"], replace=options["replace"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {manifest['objects']} objects and "
                          f"{manifest['media_files']} media files from {options['archive']}")

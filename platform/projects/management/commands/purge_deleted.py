"""`python manage.py purge_deleted`: remove projects and videos past their deletion grace period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from projects.deletion import purge_expired


class Command(BaseCommand):
    help = "Permanently remove projects and videos deleted longer ago than the grace period."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = purge_expired()
        self.stdout.write(f"purged {counts['projects']} projects, {counts['videos']} videos, "
                          f"{counts['files']} files")

"""Register videos that stay on a server disk (no copy), e.g. a lab's shared storage."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import Project
from videos.extraction import Strategy
from videos.ingest import DuplicateVideo, add_video, check_server_path
from videos.services import start_extraction


class Command(BaseCommand):
    help = "Register video files from server paths into a project (validated, de-duplicated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument(
            "--extract",
            type=int,
            default=0,
            metavar="N",
            help="Also queue extraction of N frames per video (k-means).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=options["project"], deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        failures = 0
        for raw in options["paths"]:
            try:
                path = check_server_path(raw)
                video = add_video(project, path, name=path.name, register=True)
            except DuplicateVideo as exc:
                self.stdout.write(f"skipped {raw}: {exc.messages[0]}")
                continue
            except ValidationError as exc:
                failures += 1
                self.stderr.write(f"rejected {raw}: {' '.join(exc.messages)}")
                continue
            self.stdout.write(
                f"registered {path} as video {video.pk}: {video.frame_count} frames, "
                f"{video.width}x{video.height} @ {video.fps:.2f} fps ({video.codec})"
            )
            if options["extract"]:
                job = start_extraction(video, Strategy.KMEANS, options["extract"])
                self.stdout.write(f"  extraction queued as job {job.pk}")
        if failures:
            raise CommandError(f"{failures} file(s) rejected")

"""Import a SLEAP .slp file (instances, tracks, skeleton, videos) into a PoseLoop project."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.exchange.import_slp import import_slp
from learning.formats.errors import FormatError
from learning.management.cli import optional_user, progress_printer


class Command(BaseCommand):
    help = (
        "Import a SLEAP labels file into a project (created with the file's skeleton when "
        "missing). Its videos are found by file name in --video-dir when the stored path is "
        "another machine's. User instances become labels; --with-predictions also imports "
        "predicted instances (as pseudo-labels) on frames without user ones. Re-runnable. "
        "The last line is a JSON summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slp_path")
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--video-dir", help="Folder holding the videos the file names.")
        parser.add_argument("--with-predictions", action="store_true",
                            help="Also import predicted instances (frames without user ones).")
        parser.add_argument("--max-animals", type=int, default=None,
                            help="Animals per frame of a new project (default: the most the "
                                 "file's frames hold); extra instances are left out, lowest "
                                 "score first.")
        parser.add_argument("--skip-crowded", action="store_true",
                            help="Leave out frames with more instances than the project's "
                                 "animals (false detections) instead of keeping the best.")
        parser.add_argument("--register", action="store_true",
                            help="Keep the videos where they are instead of copying them.")
        parser.add_argument("--pi", help="Username who becomes PI of a newly created project.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_animals"] is not None and options["max_animals"] < 1:
            raise CommandError("--max-animals must be at least 1")
        try:
            summary = import_slp(
                options["slp_path"], project_name=options["project"],
                video_dir=options["video_dir"], with_predictions=options["with_predictions"],
                max_animals=options["max_animals"], skip_crowded=options["skip_crowded"],
                register=options["register"],
                user=optional_user(options["pi"]), progress=progress_printer(self.stdout))
        except FormatError as exc:
            raise CommandError(f"Import stopped: {exc}") from exc
        self.stdout.write(json.dumps(summary.as_dict()))

"""Write a densely labeled, redundant synthetic DeepLabCut project (an oracle-replay pool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.formats.errors import FormatError
from learning.oracle_synthetic import write_redundant_project


class Command(BaseCommand):
    help = ("Write every frame of a synthetic video (the animal mostly resting, two short light "
            "changes) with exact labels as a DeepLabCut project, for replay_oracle.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", help="Folder to write (empty or new).")
        parser.add_argument("--frames", type=int, default=360)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} exists and is not an empty folder.")
        try:
            config = write_redundant_project(out, n_frames=options["frames"],
                                             seed=options["seed"])
        except (ValueError, FormatError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"wrote {options['frames']} labeled frames: {config}")

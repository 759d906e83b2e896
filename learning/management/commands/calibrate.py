"""Calibrate a camera rig from board recordings into anipose's calibration.toml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.geometry.board import BoardError
from learning.geometry.calibration import CalibrationError
from learning.geometry.session import calibrate_files
from learning.management.cli import progress_printer


def named_paths(items: list[str], what: str) -> dict[str, Path]:
    """NAME=PATH arguments as {name: path}; CommandError for a malformed or missing one."""
    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise CommandError(f"expected NAME={what.upper()}, got {item!r}")
        if name in out:
            raise CommandError(f"camera {name!r} is given twice")
        if not Path(path).is_file():
            raise CommandError(f"camera {name}: no such file {path}")
        out[name] = Path(path)
    return out


class Command(BaseCommand):
    help = ("Calibrate cameras from one board recording each (NAME=VIDEO ...): writes the "
            "calibration.toml and a diagnostic PNG per camera beside it; the last line is JSON "
            "with reprojection_px per camera and the cameras.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("videos", nargs="+", metavar="NAME=VIDEO")
        parser.add_argument("--board", required=True, help="board.toml (anipose layouts).")
        parser.add_argument("--out", required=True, help="calibration.toml to write.")
        parser.add_argument("--max-frames", type=int, default=200,
                            help="Frames spread over the recordings to use (default 200).")
        parser.add_argument("--min-frames", type=int, default=5,
                            help="Frames in which each camera must see the board.")
        parser.add_argument("--max-median-px", type=float, default=3.0,
                            help="Refuse a camera whose median reprojection error is higher.")

    def handle(self, *args: Any, **options: Any) -> None:
        videos = named_paths(options["videos"], "video")
        try:
            summary = calibrate_files(
                options["board"], videos, options["out"], progress_printer(self.stdout),
                max_frames=options["max_frames"], min_frames=options["min_frames"],
                max_median_px=options["max_median_px"])
        except (CalibrationError, BoardError) as exc:
            raise CommandError(f"Calibration refused: {exc}") from exc
        self.stdout.write(json.dumps(summary))

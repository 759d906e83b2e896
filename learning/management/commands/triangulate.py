"""Triangulate per-camera 2D poses of a session into 3D pose tables."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.formats.errors import FormatError
from learning.geometry.calibration_toml import CalibrationFileError
from learning.geometry.session import SessionError, triangulate_files
from learning.management.commands.calibrate import named_paths


class Command(BaseCommand):
    help = ("Triangulate 2D poses (NAME=POSES ...: a SLEAP .slp or a PoseLoop/DeepLabCut pose "
            "table per camera of the calibration) into 3D tables in --out; the last line is "
            "JSON with reprojection_px per camera and frames.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("poses", nargs="+", metavar="NAME=POSES")
        parser.add_argument("--calibration", required=True, help="anipose calibration.toml.")
        parser.add_argument("--out", required=True, help="Folder for the 3D tables.")
        parser.add_argument("--stem", default="points3d", help="File name stem of the tables.")
        parser.add_argument("--min-score", type=float, default=0.0,
                            help="Ignore 2D points with a lower likelihood.")
        parser.add_argument("--outlier-px", type=float, default=20.0,
                            help="Drop a view reprojecting this far off when the rest agree.")
        parser.add_argument("--smooth", type=float, default=0.0,
                            help="Temporal smoothing weight (px per unit); 0 = off.")
        parser.add_argument("--bones", type=float, default=0.0,
                            help="Constant bone length weight (px per unit); 0 = off.")

    def handle(self, *args: Any, **options: Any) -> None:
        poses = named_paths(options["poses"], "poses")
        self.stdout.write(f"Triangulating {len(poses)} views: {', '.join(poses)}")
        try:
            summary = triangulate_files(
                options["calibration"], poses, options["out"], stem=options["stem"],
                min_score=options["min_score"], outlier_px=options["outlier_px"],
                smooth_weight=options["smooth"], bone_weight=options["bones"])
        except (SessionError, FormatError, CalibrationFileError) as exc:
            raise CommandError(str(exc)) from exc
        for name, stats in summary["reprojection_px"].items():
            self.stdout.write(f"  {name}: median {stats['median']} px, {stats['points']} points, "
                              f"{stats['dropped']} dropped as outliers")
        self.stdout.write(json.dumps(summary))

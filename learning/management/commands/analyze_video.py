"""Analyse a video with a model of a project into a DeepLabCut pose table (.h5 + .csv)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.analysis import videos as analysis
from learning.models import ModelVersion
from projects.models import Project
from videos.ingest import DuplicateVideo, add_video
from videos.models import Video


def find_video(project: Project, ref: str) -> tuple[Video, bool]:
    """(video, registered now): a video id of the project, or a file path (registered in place
    if the project does not hold it yet)."""
    if ref.isdigit():
        video = Video.objects.filter(project=project, pk=int(ref), deleted_at__isnull=True).first()
        if video is None:
            raise CommandError(f"No video {ref} in project {project.name!r}.")
        return video, False
    path = Path(ref).expanduser().resolve()
    if not path.is_file():
        raise CommandError(f"No such file: {ref}")
    try:
        return add_video(project, path, name=path.name, register=True), True
    except DuplicateVideo as exc:
        return exc.existing, False
    except ValidationError as exc:
        raise CommandError(f"Not a usable video: {'; '.join(exc.messages)}") from exc


class Command(BaseCommand):
    help = (
        "Analyse a video (id, or a file path registered in place if new) with the project's "
        "current model or --version; prints progress, then the pose table path as the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("video", help="Video id in the project, or a video file path.")
        parser.add_argument("--project", required=True, help="Project name.")
        # `--version N` picks the model; it replaces Django's own --version (the Django release).
        parser.conflict_handler = parser._optionals.conflict_handler = "resolve"
        parser.add_argument("--version", type=int, help="Model iteration (default: current).")
        parser.add_argument("--chunk-frames", type=int, default=analysis.DEFAULT_CHUNK_FRAMES)
        parser.add_argument("--batch", type=int, default=analysis.DEFAULT_BATCH)
        parser.add_argument("--no-filtered", action="store_true",
                            help="Skip the median-filtered, pcutoff version.")
        parser.add_argument("--labeled-video", action="store_true",
                            help="Also render a video with the points drawn.")
        parser.add_argument("--whole-frames", action="store_true",
                            help="Run the network on whole frames only (no tracked windows).")
        parser.add_argument("--int8", action="store_true",
                            help="CPU: int8 backbone calibrated on the video (faster; uncertain "
                                 "points may move). Default: float32.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=options["project"], deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        video, registered = find_video(project, options["video"])
        if registered:
            self.stdout.write(f"Registered {video.name} (id {video.pk}, "
                              f"{video.frame_count} frames)")
        version_id = None
        if options["version"] is not None:
            version = ModelVersion.objects.filter(project=project,
                                                  iteration=options["version"]).first()
            if version is None:
                raise CommandError(f"No model {options['version']} in {project.name!r}.")
            version_id = version.pk
        try:
            version = analysis.resolve_version(project, version_id)
            job = analysis.create_analysis_job(video, version, {
                "chunk_frames": options["chunk_frames"], "batch_size": options["batch"],
                "filtered": not options["no_filtered"], "labeled_video": options["labeled_video"],
                "tracking": not options["whole_frames"], "int8": options["int8"],
            })
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Analysing {video.name} with model {version.iteration} (job {job.pk})")
        started = time.perf_counter()
        shown = [-1]

        def progress(done: int, total: int) -> None:
            step = int(20 * done / max(total, 1))
            if step != shown[0]:
                shown[0] = step
                fps = done / max(time.perf_counter() - started, 1e-9)
                self.stdout.write(f"  {done}/{total} frames ({fps:.1f} fps)")

        try:
            manifest = analysis.run_analysis(job.pk, progress=progress)
        except Exception as exc:
            raise CommandError(f"Analysis failed, nothing published: {exc}") from exc
        seconds = time.perf_counter() - started
        self.stdout.write(f"{manifest['frames']} frames in {seconds:.1f} s "
                          f"({manifest['frames'] / max(seconds, 1e-9):.1f} fps); "
                          f"files: {', '.join(manifest['files'])}")
        name = f"{manifest['folder']}/{manifest['pose_table']}"
        try:
            self.stdout.write(default_storage.path(name))
        except NotImplementedError:
            self.stdout.write(name)

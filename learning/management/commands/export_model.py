"""Export a model version as a bundle zip (ONNX, TorchScript, metadata, README)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.exchange.model_export import export_bundle
from learning.models import ModelVersion
from learning.training.registry import current_version
from projects.models import Project


class Command(BaseCommand):
    help = "Export a model (current, or --version N) as a zip bundle; prints the zip path last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project name.")
        # `--version N` picks the model; it replaces Django's own --version (the Django release).
        parser.conflict_handler = parser._optionals.conflict_handler = "resolve"
        parser.add_argument("--version", type=int, help="Model iteration (default: current).")
        parser.add_argument("--out", help="Copy the zip to this file or folder.")
        parser.add_argument("--rebuild", action="store_true", help="Rebuild a cached bundle.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=options["project"], deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        if options["version"] is None:
            version = current_version(project)
        else:
            version = ModelVersion.objects.filter(project=project,
                                                  iteration=options["version"]).first()
        if version is None:
            raise CommandError("No such model (train one, or give --version).")
        try:
            name = export_bundle(version, rebuild=options["rebuild"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["out"]:
            out = Path(options["out"])
            if out.is_dir():
                out = out / name.rsplit("/", 1)[-1]
            with default_storage.open(name, "rb") as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            self.stdout.write(str(out.resolve()))
            return
        try:
            self.stdout.write(default_storage.path(name))
        except NotImplementedError:
            self.stdout.write(name)

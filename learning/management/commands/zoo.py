"""The lab model zoo from the command line: publish, list, export, import (thin over
learning.zoo). `publish` and `import` end with one JSON line describing the entry."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.management.cli import optional_user
from learning.models import ModelVersion
from learning.training.registry import current_version
from learning.zoo import bundle, entries
from learning.zoo.models import Visibility, ZooEntry
from projects.models import Project


def _summary(entry: ZooEntry) -> dict[str, Any]:
    return {"id": entry.pk, "name": entry.name, "species": entry.species,
            "camera_view": entry.camera_view, "bodyparts": entry.bodyparts,
            "n_labels": entry.n_labels, "test_rmse_px": entry.test_rmse_px,
            "visibility": entry.visibility, "sha256": entry.checkpoint_sha256,
            "source": entry.source}


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()) \
        if hasattr(exc, "error_dict") else " ".join(exc.messages)


class Command(BaseCommand):
    help = "Publish, list, export and import zoo models."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        pub = sub.add_parser("publish", help="Publish a project's model version.")
        pub.add_argument("--project", required=True, help="Project name.")
        pub.add_argument("--version", type=int, help="Iteration (default: the current model).")
        pub.add_argument("--name", help="Zoo name (default: the project's name).")
        for opt in ("species", "view", "licence", "notes"):
            pub.add_argument(f"--{opt}", default="")
        pub.add_argument("--visibility", choices=Visibility.values, default=Visibility.SITE)
        pub.add_argument("--user", help="Publisher (a PI of the project); default: none.")
        sub.add_parser("list", help="List all entries.")
        exp = sub.add_parser("export", help="Write an entry's bundle zip.")
        exp.add_argument("entry_id", type=int)
        exp.add_argument("file")
        imp = sub.add_parser("import", help="Add a bundle zip to the zoo.")
        imp.add_argument("file")
        imp.add_argument("--visibility", choices=Visibility.values, default=Visibility.SITE)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from None

    def _publish(self, opts: dict[str, Any]) -> None:
        project = Project.objects.filter(name=opts["project"], deleted_at__isnull=True).first()
        if project is None:
            raise CommandError(f"No project named {opts['project']!r}.")
        if opts["version"] is None:
            version = current_version(project)
            if version is None:
                raise CommandError("The project has no current model; give --version.")
        else:
            version = ModelVersion.objects.filter(project=project,
                                                  iteration=opts["version"]).first()
            if version is None:
                raise CommandError(f"No model {opts['version']} in {project.name}.")
        entry = entries.publish(
            version, optional_user(opts["user"]), name=opts["name"] or project.name,
            species=opts["species"], camera_view=opts["view"], licence=opts["licence"],
            notes=opts["notes"], visibility=opts["visibility"])
        self.stdout.write(json.dumps(_summary(entry)))

    def _list(self, opts: dict[str, Any]) -> None:
        for entry in ZooEntry.objects.order_by("pk"):
            rmse = "–" if entry.test_rmse_px is None else f"{entry.test_rmse_px:.2f} px"
            self.stdout.write(f"{entry.pk:5d}  {entry.name}  [{entry.species or '?'}, "
                              f"{entry.camera_view or '?'}]  {len(entry.bodyparts)} parts, "
                              f"{entry.n_labels} labels, test {rmse}, {entry.visibility}")

    def _export(self, opts: dict[str, Any]) -> None:
        entry = ZooEntry.objects.filter(pk=opts["entry_id"]).first()
        if entry is None:
            raise CommandError(f"No zoo entry {opts['entry_id']}.")
        with open(opts["file"], "wb") as out:
            bundle.write_bundle(entry, out)
        self.stdout.write(f"Wrote {opts['file']}")

    def _import(self, opts: dict[str, Any]) -> None:
        try:
            fh = open(opts["file"], "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from None
        with fh:
            entry = bundle.import_bundle(fh, None, visibility=opts["visibility"])
        self.stdout.write(json.dumps(_summary(entry)))

"""Run the active-learning loop on the demo project with an oracle annotator.

The demo video is synthetic, so the true keypoints of every frame are known: an "oracle"
labels the frames at the head of the queue, as a person would, and everything else happens
by itself — the retrain trigger trains a new model, the new model scores frames and the queue
is refilled. Tasks run in this process (eager Celery), so no worker is needed. Afterwards the
dashboard has a learning curve.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.labels import import_label
from annotation.models import EntryStatus, LabelSource, QueueEntry
from dashboards.queries import project_dashboard
from learning.models import ModelVersion
from poseloop.celery import app
from projects.management.commands.demo import DEMO_PROJECT, DEMO_VIDEO
from projects.models import Project
from videos.synthetic import render_frame


def oracle_points(project: Project, frame_index: int) -> list[dict[str, Any]]:
    """The true keypoints of a demo frame, in the label API's point format."""
    _, keypoints = render_frame(frame_index, width=DEMO_VIDEO["width"],
                                height=DEMO_VIDEO["height"], seed=DEMO_VIDEO["seed"])
    return [{"bodypart": bp.pk, "x": float(x), "y": float(y), "state": "visible"}
            for bp, (x, y) in zip(project.bodyparts.all(), keypoints[0], strict=True)]


class Command(BaseCommand):
    help = "Label demo frames with an oracle and let the loop retrain, score and refill."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--labels-per-round", type=int, default=8)
        parser.add_argument("--minutes", type=float, default=1.0, help="Training budget.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            raise CommandError("No demo project: run `python manage.py demo` first.")
        annotator = get_user_model().objects.get(username="annotator")
        per_round = options["labels_per_round"]
        Project.objects.filter(pk=project.pk).update(retrain_after_labels=per_round)
        settings.TRAIN_DEFAULT_MINUTES = options["minutes"]
        app.conf.task_always_eager = True
        for round_no in range(1, options["rounds"] + 1):
            entries = list(QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN)
                           .select_related("frame").order_by("-pinned", "-priority", "id")
                           [:per_round])
            if not entries:
                self.stdout.write("the queue is empty")
                break
            before = ModelVersion.objects.filter(project=project).count()
            for entry in entries:
                import_label(project, entry.frame, oracle_points(project, entry.frame.frame_index),
                             source=LabelSource.HUMAN, user=annotator)
            versions = ModelVersion.objects.filter(project=project).order_by("iteration")
            latest = versions.last()
            self.stdout.write(
                f"round {round_no}: labeled {len(entries)} frames ({entries[0].reason} first); "
                f"models {before} → {versions.count()}"
                + (f", latest v{latest.iteration} {latest.status} test RMSE "
                   f"{latest.metrics.get('test_rmse_px')}" if latest else ""))
            open_now = QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN)
            self.stdout.write(f"  queue: {open_now.count()} open, reasons "
                              f"{sorted(set(open_now.values_list('reason', flat=True)))}")
        models = project_dashboard(project)["models"]
        self.stdout.write(f"dashboard hint: {models.get('trend', {}).get('hint', models)}")

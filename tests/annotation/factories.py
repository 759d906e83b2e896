"""Factories and helpers for annotation tests (frames need no image file here)."""

from __future__ import annotations

import factory

from annotation.models import Label, LabelStatus, QueueEntry, QueueReason
from tests.factories import ProjectFactory, UserFactory
from videos.models import Frame, FrameOrigin


class FrameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Frame

    project = factory.SubFactory(ProjectFactory)
    image = factory.Sequence(lambda n: f"test/frame{n}.png")
    external_path = factory.Sequence(lambda n: f"labeled-data/test/img{n:05d}.png")
    width = 640
    height = 480
    origin = FrameOrigin.IMPORTED


class QueueEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueEntry

    frame = factory.SubFactory(FrameFactory)
    project = factory.LazyAttribute(lambda e: e.frame.project)
    reason = QueueReason.MANUAL
    priority = 0.0


def points_for(project, xy=(10.0, 20.0), state="visible"):
    """One point per body part of the project, all at `xy` (None: absent)."""
    out = []
    for bp in project.bodyparts.order_by("order", "id"):
        if xy is None:
            out.append({"bodypart": bp.pk, "x": None, "y": None, "state": "absent"})
        else:
            out.append({"bodypart": bp.pk, "x": xy[0], "y": xy[1], "state": state})
    return out


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    frame = factory.SubFactory(FrameFactory)
    project = factory.LazyAttribute(lambda label: label.frame.project)
    annotator = factory.SubFactory(UserFactory)
    status = LabelStatus.SUBMITTED
    points = factory.LazyAttribute(lambda label: points_for(label.project))

"""Saving labels: validated, versioned (optimistic concurrency), idempotent, with full history."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from annotation.agreement import (
    lock_counted_points,
    refresh_frame_agreement,
    store_frame_agreement,
)
from annotation.errors import Conflict
from annotation.instances import Instance, validate_instances
from annotation.models import (
    COUNTED_STATUSES,
    Label,
    LabelRevision,
    LabelSource,
    LabelStatus,
    Point,
    QueueEntry,
)
from annotation.points import validate_points
from annotation.queue import (
    check_lease_for_submit,
    complete_entry,
    renew_if_held,
    settle_open_entry,
)
from annotation.signals import labels_changed
from projects.models import Project
from videos.models import Frame

IMPORT_USERNAME = "poseloop-import"


def bodypart_ids(project: Project) -> list[int]:
    """The project's body part ids in their order."""
    return list(project.bodyparts.order_by("order", "id").values_list("pk", flat=True))


def clean_points(project: Project, frame: Frame, points: Any) -> list[Point] | list[Instance]:
    """Validated points for a frame of the project (ValidationError → 400, Http404 if foreign).

    A multi-animal project's labels hold instances (`annotation.instances`).
    """
    if frame.project_id != project.pk:
        raise Http404("No such frame in this project.")
    if project.multi_animal:
        return validate_instances(project, bodypart_ids(project), frame, points)
    return validate_points(bodypart_ids(project), frame, points)


def announce(label: Label) -> None:
    """Send labels_changed once the current transaction commits."""
    project_id, frame_id, annotator_id = label.project_id, label.frame_id, label.annotator_id
    transaction.on_commit(lambda: labels_changed.send(
        sender=Label, project_id=project_id, frame_id=frame_id, annotator_id=annotator_id))


def _replay(label: Label, request_id: uuid.UUID | None) -> Label | None:
    """The label as a request with this id left it, if that request was already applied."""
    if request_id is None:
        return None
    revision = label.revisions.filter(request_id=request_id).first()
    if revision is None:
        return None
    label.version, label.points, label.source = revision.version, revision.points, revision.source
    label.status, label.seconds_spent = revision.status, revision.seconds_spent
    label.updated_at = revision.saved_at
    return label


def _next_status(label: Label | None, submit: bool) -> LabelStatus:
    if submit:
        return LabelStatus.SUBMITTED
    if label is None:
        return LabelStatus.DRAFT
    if label.status == LabelStatus.ACCEPTED:  # changed after review: needs a new review
        return LabelStatus.SUBMITTED
    return LabelStatus(label.status)


def write_version(label: Label | None, *, project: Project, frame: Frame,
                  annotator: AbstractBaseUser, saved_by: AbstractBaseUser | None,
                  points: list[Point], source: str, status: str, seconds_spent: float,
                  base_version: int, request_id: uuid.UUID | None, now: datetime) -> Label:
    """Create the label or move it from `base_version` to the next one, and append a revision.

    Call inside a transaction holding the label's row lock; the UPDATE is also conditional on
    the version, so a lost race can never overwrite a newer save.
    """
    submitted_at = now if status == LabelStatus.SUBMITTED else None
    if label is not None and status != LabelStatus.SUBMITTED:
        submitted_at = label.submitted_at
    values = {"points": points, "source": source, "status": status,
              "seconds_spent": seconds_spent, "submitted_at": submitted_at, "updated_at": now}
    if label is None:
        label = Label.objects.create(project=project, frame=frame, annotator=annotator, version=1,
                                     **values)
    else:
        updated = Label.objects.filter(pk=label.pk, version=base_version).update(
            version=F("version") + 1, **values)
        if updated != 1:
            current = Label.objects.get(pk=label.pk)
            raise Conflict("The label changed while saving.", current=current)
        for name, value in values.items():
            setattr(label, name, value)
        label.version = base_version + 1
    LabelRevision.objects.create(
        label=label, version=label.version, points=points, source=source, status=status,
        seconds_spent=seconds_spent, saved_by=saved_by, saved_at=label.updated_at,
        request_id=request_id)
    return label


def _check_seconds(seconds_spent: float) -> float:
    if not (math.isfinite(seconds_spent) and seconds_spent >= 0):
        raise ValidationError({"seconds_spent": "A finite number of seconds >= 0."})
    return float(seconds_spent)


def save_label(project: Project, frame: Frame, user: AbstractBaseUser, points: Any, *,
               base_version: int, request_id: uuid.UUID | None = None,
               seconds_spent: float = 0.0, source: str = LabelSource.HUMAN,
               entry_id: int | None = None, submit: bool = False,
               now: datetime | None = None) -> Label:
    """Save the user's label for a frame (version + 1) and return it.

    Validation errors (400), a foreign frame (404), a stale `base_version` (Conflict with the
    current label, 409) or a submit without a live lease of one's own (403/409) change nothing.
    The same `request_id` again returns the label as that request left it, without a new
    revision. `submit` marks the label submitted and completes the queue entry; an autosave
    with an entry renews the user's lease. `seconds_spent` is the label's total, as the client
    counts it. Atomic: the label row is locked (SELECT … FOR UPDATE) and the UPDATE is
    conditional on the version; the first save of a label is guarded by the unique
    (frame, annotator) constraint.
    """
    now = now or timezone.now()
    clean = clean_points(project, frame, points)
    seconds = _check_seconds(seconds_spent)
    try:
        with transaction.atomic():
            return _save_locked(project, frame, user, clean, base_version, request_id, seconds,
                                source, entry_id, submit, now)
    except IntegrityError:
        # Two first saves raced (unique frame+annotator, or the same request_id twice).
        current = Label.objects.filter(frame=frame, annotator=user).first()
        if current is not None:
            replay = _replay(current, request_id)
            if replay is not None:
                return replay
        raise Conflict("This label was saved elsewhere in the meantime.", current=current) from None


def _save_locked(project: Project, frame: Frame, user: AbstractBaseUser, points: list[Point],
                 base_version: int, request_id: uuid.UUID | None, seconds: float, source: str,
                 entry_id: int | None, submit: bool, now: datetime) -> Label:
    label = Label.objects.select_for_update().filter(frame=frame, annotator=user).first()
    current_version = label.version if label is not None else 0
    # A request already applied moved the label past its base version, so the replay look-up
    # is needed only on a mismatch (the lock returns the newest row). The same request id
    # sent again with the current version as base hits the one-revision-per-request
    # constraint, and save_label answers with the replay.
    if label is not None and base_version != current_version:
        replay = _replay(label, request_id)
        if replay is not None:
            return replay
    if base_version != current_version:
        raise Conflict(f"Version {base_version} is stale: the saved label is at version "
                       f"{current_version}.", current=label)
    entry = None
    if entry_id is not None and submit:
        entry = check_lease_for_submit(project, entry_id, frame, user, now)
    label = write_version(label, project=project, frame=frame, annotator=user, saved_by=user,
                          points=points, source=source, status=_next_status(label, submit),
                          seconds_spent=seconds, base_version=base_version,
                          request_id=request_id, now=now)
    if entry_id is not None and not submit:
        renew_if_held(entry_id, user, project, now)
    if submit:
        _after_submit(project, frame, user, entry, now)
        announce(label)
    elif label.status in COUNTED_STATUSES:
        # An edit of a submitted (or accepted) label moves its points: the frame's agreement
        # follows. Drafts, the usual autosave, do not count and pay nothing here.
        refresh_frame_agreement(frame.pk, project.pk)
    return label


def _after_submit(project: Project, frame: Frame, user: AbstractBaseUser,
                  entry: QueueEntry | None, now: datetime) -> None:
    """Complete the queue entry and refresh the frame's agreement (frame row locked)."""
    if entry is None:
        settle_open_entry(frame.pk)
        refresh_frame_agreement(frame.pk, project.pk)
        return
    # Lock order as elsewhere: label, entry, frame. One read of the counted labels serves the
    # entry's completion and the agreement.
    counted = lock_counted_points(frame.pk)
    complete_entry(entry, user, now, counted=len(counted))
    # The submitted label counts, so the frame's count of counted labels did not go down:
    # with fewer than 2 there were none before either, hence no agreement records to delete.
    if len(counted) >= 2:
        store_frame_agreement(project.pk, frame.pk, counted)


def import_user() -> AbstractBaseUser:
    """The account that owns imported labels when no user is given (cannot log in)."""
    user, created = get_user_model().objects.get_or_create(
        username=IMPORT_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def import_label(project: Project, frame: Frame, points: Any, *,
                 source: str = LabelSource.IMPORTED, user: AbstractBaseUser | None = None
                 ) -> Label:
    """Create or overwrite a label from a file (DeepLabCut, COCO…), accepted, with a revision.

    Without `user` the label belongs to the import account. The frame's open queue entry is
    done once it has enough labels; labels_changed is sent on commit. Atomic (label row lock).
    """
    now = timezone.now()
    clean = clean_points(project, frame, points)
    owner = user or import_user()
    with transaction.atomic():
        label = Label.objects.select_for_update().filter(frame=frame, annotator=owner).first()
        label = write_version(label, project=project, frame=frame, annotator=owner,
                              saved_by=user, points=clean, source=source,
                              status=LabelStatus.ACCEPTED, seconds_spent=0.0,
                              base_version=label.version if label else 0, request_id=None,
                              now=now)
        settle_open_entry(frame.pk)
        refresh_frame_agreement(frame.pk, project.pk)
        announce(label)
    return label

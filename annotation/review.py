"""Reviewing submitted labels: accept, correct (a new version by the reviewer), or reject."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils import timezone

from annotation.agreement import refresh_frame_agreement
from annotation.errors import Conflict
from annotation.labels import announce, clean_points, write_version
from annotation.models import (
    Label,
    LabelSource,
    LabelStatus,
    Review,
    ReviewDecision,
)
from annotation.queue import send_back
from jobs.models import Job, JobKind, JobStatus
from projects.models import Project

REVIEWABLE = (LabelStatus.SUBMITTED, LabelStatus.ACCEPTED)


def suspect_frame_ids(project: Project) -> list[int]:
    """Labeled frames whose skeleton the newest scoring run found implausible (limb lengths
    far from the other labels': likely label errors; `learning.selection.scoring`)."""
    job = (Job.objects.filter(project=project, kind=JobKind.SCORE, status=JobStatus.SUCCEEDED)
           .order_by("-finished_at", "-id").only("result").first())
    ids = (job.result or {}).get("suspect_label_frame_ids", []) if job else []
    return [int(i) for i in ids]


def next_for_review(project: Project, reviewer: AbstractBaseUser) -> Label | None:
    """The next label of someone else to review, or None; `label.suspect` says why.

    Likely label errors come first: a label on a frame the newest scoring run flagged as
    implausible, submitted or already accepted, unless its current version has been reviewed
    (so an accepted verdict sticks until the label changes). Then the oldest submitted label.
    Read-only: two reviewers may get the same label; the second decision is then applied on
    top of the first.
    """
    others = (Label.objects.filter(project=project).exclude(annotator=reviewer)
              .select_related("frame", "annotator"))
    suspects = suspect_frame_ids(project)
    if suspects:
        reviewed = Review.objects.filter(label=OuterRef("pk"), label_version=OuterRef("version"))
        label = (others.filter(frame_id__in=suspects, status__in=REVIEWABLE)
                 .exclude(Exists(reviewed)).order_by("frame_id", "id").first())
        if label is not None:
            label.suspect = True
            return label
    label = others.filter(status=LabelStatus.SUBMITTED).order_by("submitted_at", "id").first()
    if label is not None:
        label.suspect = False
    return label


def other_labels(label: Label) -> list[Label]:
    """The other annotators' labels of the same frame (drafts left out)."""
    return list(Label.objects.filter(frame_id=label.frame_id).exclude(pk=label.pk)
                .exclude(status=LabelStatus.DRAFT).select_related("annotator"))


def review_label(project: Project, label_id: int, reviewer: AbstractBaseUser, decision: str, *,
                 note: str = "", points: Any = None) -> Label:
    """Record a review decision and apply it; returns the label.

    accept: the label becomes accepted. correct: `points` become a new version saved by the
    reviewer (source "corrected", accepted). reject (a note is required): the label is
    rejected and its frame goes back to the queue, pinned and assigned to its annotator.
    Reviewing one's own label is refused (403); only submitted or accepted labels can be
    reviewed (409). Atomic: the label row is locked (SELECT … FOR UPDATE).
    """
    decision = ReviewDecision(decision)
    if decision == ReviewDecision.REJECT and not note.strip():
        raise ValidationError({"note": "Say why the label is rejected."})
    if decision == ReviewDecision.CORRECT and points is None:
        raise ValidationError({"points": "A correction needs the corrected points."})
    now = timezone.now()
    with transaction.atomic():
        # Only the label row (the frame is locked later, by the agreement refresh): a lock on
        # the joined project row would hold up every label saved in the project meanwhile
        # (the foreign key check at its commit waits for FOR UPDATE).
        label = (Label.objects.select_for_update(of=("self",)).select_related("frame", "project")
                 .filter(pk=label_id, project=project).first())
        if label is None:
            raise Http404("No such label.")
        if label.annotator_id == reviewer.pk:
            raise PermissionDenied("You cannot review your own label.")
        if label.status not in REVIEWABLE:
            raise Conflict(f"This label is {label.status}; it cannot be reviewed.", current=label)
        reviewed_version = label.version
        if decision == ReviewDecision.ACCEPT:
            label.status = LabelStatus.ACCEPTED
            label.save(update_fields=["status", "updated_at"])
        elif decision == ReviewDecision.CORRECT:
            clean = clean_points(project, label.frame, points)
            label = write_version(
                label, project=project, frame=label.frame, annotator=label.annotator,
                saved_by=reviewer, points=clean, source=LabelSource.CORRECTED,
                status=LabelStatus.ACCEPTED, seconds_spent=label.seconds_spent,
                base_version=label.version, request_id=None, now=now)
            announce(label)
        else:
            label.status = LabelStatus.REJECTED
            label.save(update_fields=["status", "updated_at"])
            send_back(label)
        Review.objects.create(label=label, label_version=reviewed_version, reviewer=reviewer,
                              decision=decision, note=note)
        refresh_frame_agreement(label.frame_id, label.project_id)
    return label

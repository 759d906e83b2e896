"""The labeling queue: leasing frames to annotators, and edits by the PI and the learning app.

Concurrency: claims use `select_for_update(skip_locked=True)` on PostgreSQL and a conditional
UPDATE everywhere (on SQLite, settings start every transaction IMMEDIATE, so claims serialize).
Three database constraints back this up: one live (open/leased) entry per frame, one lease per
user and project, and a leased entry always has a holder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from annotation.errors import Conflict
from annotation.models import (
    COUNTED_STATUSES,
    LIVE_STATUSES,
    EntryStatus,
    Label,
    QueueEntry,
    QueueReason,
)
from projects.models import Project
from videos.models import Frame

CHUNK = 500
LEASE_ATTEMPTS = 5
Scores = Mapping[int, tuple[float, dict[str, float]]]


def labels_required_for(project_id: int, frame_id: int, double_fraction: float) -> int:
    """1 or 2: a stable hash of (project, frame) falls under the double-label fraction or not."""
    digest = hashlib.blake2b(f"{project_id}:{frame_id}".encode(), digest_size=8).digest()
    return 2 if int.from_bytes(digest, "big") / 2**64 < double_fraction else 1


def claimable(now: datetime) -> Q:
    """Entries that may be leased: open ones, and leases that have expired."""
    return Q(status=EntryStatus.OPEN) | Q(status=EntryStatus.LEASED, lease_expires_at__lte=now)


def _with_my_label(entries: QuerySet[QueueEntry], user: AbstractBaseUser
                   ) -> QuerySet[QueueEntry]:
    """`entries` annotated with `my_label_id`: the id of the user's label of the frame, or None
    (so that answering a lease needs no second look-up when there is none, the usual case)."""
    mine = Label.objects.filter(frame=OuterRef("frame"), annotator=user).order_by()
    return entries.annotate(my_label_id=Subquery(mine.values("pk")[:1]))


def _renew_own(project: Project, user: AbstractBaseUser, expires: datetime) -> QueueEntry | None:
    """The user's current lease (even an expired one nobody took), renewed; else None."""
    entry = _with_my_label(
        QueueEntry.objects.select_for_update(of=("self",)).select_related("frame")
        .filter(project=project, status=EntryStatus.LEASED, leased_to=user), user).first()
    if entry is None:
        return None
    QueueEntry.objects.filter(pk=entry.pk).update(lease_expires_at=expires,
                                                  updated_at=timezone.now())
    entry.lease_expires_at = expires
    return entry


def _claim(project: Project, user: AbstractBaseUser, now: datetime,
           expires: datetime) -> QueueEntry | None:
    mine = Label.objects.filter(frame=OuterRef("frame"), annotator=user,
                                status__in=COUNTED_STATUSES)
    candidates = _with_my_label(
        QueueEntry.objects.filter(project=project)
        .filter(claimable(now))
        .filter(Q(assigned_to__isnull=True) | Q(assigned_to=user))
        .filter(Q(frame__video__isnull=True) | Q(frame__video__deleted_at__isnull=True))
        .exclude(Exists(mine))
        .order_by("-pinned", "-priority", "id")
        .select_related("frame")
        .select_for_update(skip_locked=True, of=("self",)), user)
    for _ in range(LEASE_ATTEMPTS):
        entry = candidates.first()
        if entry is None:
            return None
        taken = (QueueEntry.objects.filter(pk=entry.pk).filter(claimable(now))
                 .update(status=EntryStatus.LEASED, leased_to=user, lease_expires_at=expires,
                         updated_at=now))
        if taken == 1:
            entry.status, entry.leased_to = EntryStatus.LEASED, user
            entry.lease_expires_at = expires
            return entry
    return None


def lease_next(project: Project, user: AbstractBaseUser, now: datetime | None = None
               ) -> QueueEntry | None:
    """Lease the next frame to label, or None when nothing is available.

    A user who holds a lease gets it back, renewed. Otherwise the best claimable entry (pinned
    first, then priority) that is not assigned to someone else and whose frame the user has not
    already labeled. The entry comes with its frame and `my_label_id`: the id of the user's
    label of the frame (a draft, a rejected label sent back) or None. Atomic: row locks with
    SKIP LOCKED plus a conditional UPDATE; the `one_lease_per_user` constraint turns two
    simultaneous requests of one user into a retry that returns the lease the other request
    took.

    Most requests come from a user without a lease (the last one was submitted), so the claim
    is tried first: a user who holds a lease cannot take a second one (the same constraint
    fails the claim, and the retry renews the lease), and an empty queue falls back to the
    renewal. That saves the look-up of one's own lease on every request.
    """
    now = now or timezone.now()
    expires = now + timedelta(minutes=project.lease_minutes)
    renew_first = False
    for _ in range(LEASE_ATTEMPTS):
        try:
            with transaction.atomic():
                if renew_first:
                    return (_renew_own(project, user, expires)
                            or _claim(project, user, now, expires))
                return _claim(project, user, now, expires) or _renew_own(project, user, expires)
        except IntegrityError:
            renew_first = True
    raise Conflict("The queue is busy; please try again.")


def _held_entry(project: Project, entry_id: int, user: AbstractBaseUser) -> QueueEntry:
    """The entry, row-locked, if the user holds its lease (expired or not)."""
    entry = QueueEntry.objects.select_for_update().filter(pk=entry_id, project=project).first()
    if entry is None:
        raise Http404("No such queue entry.")
    if entry.status != EntryStatus.LEASED or entry.leased_to_id != user.pk:
        raise Conflict("You do not hold a lease on this queue entry.")
    return entry


def _end_lease(project: Project, entry_id: int, user: AbstractBaseUser, status: EntryStatus,
               note: str) -> QueueEntry:
    with transaction.atomic():
        entry = _held_entry(project, entry_id, user)
        entry.status, entry.status_note, entry.lease_expires_at = status, note[:500], None
        if status == EntryStatus.OPEN:
            entry.leased_to = None
        entry.save(update_fields=["status", "status_note", "lease_expires_at", "leased_to",
                                  "updated_at"])
    return entry


def skip_entry(project: Project, entry_id: int, user: AbstractBaseUser, reason: str) -> QueueEntry:
    """The holder gives the frame up: the entry leaves the queue as skipped (row lock)."""
    return _end_lease(project, entry_id, user, EntryStatus.SKIPPED, reason)


def flag_entry(project: Project, entry_id: int, user: AbstractBaseUser, reason: str) -> QueueEntry:
    """The holder marks the frame unusable: it is never queued again automatically (row lock)."""
    return _end_lease(project, entry_id, user, EntryStatus.FLAGGED, reason)


def release_entry(project: Project, entry_id: int, user: AbstractBaseUser) -> QueueEntry:
    """The holder hands the frame back to the queue unchanged (row lock)."""
    return _end_lease(project, entry_id, user, EntryStatus.OPEN, "")


def check_lease_for_submit(project: Project, entry_id: int, frame: Frame,
                           user: AbstractBaseUser, now: datetime) -> QueueEntry:
    """The entry, row-locked, if its lease is the user's and unexpired; else 404/400/403/409."""
    entry = QueueEntry.objects.select_for_update().filter(pk=entry_id, project=project).first()
    if entry is None:
        raise Http404("No such queue entry.")
    if entry.frame_id != frame.pk:
        raise ValidationError({"entry": "This queue entry is for another frame."})
    if entry.status == EntryStatus.LEASED and entry.leased_to_id != user.pk:
        if entry.lease_expires_at and entry.lease_expires_at > now:
            raise PermissionDenied("This frame is leased to someone else.")
        raise Conflict("Your lease on this frame has ended.")
    if entry.status != EntryStatus.LEASED:
        raise Conflict(f"This queue entry is {entry.status}; it can no longer be submitted.")
    if entry.lease_expires_at is None or entry.lease_expires_at <= now:
        raise Conflict("Your lease on this frame expired; ask for the next frame to renew it.")
    return entry


def renew_if_held(entry_id: int, user: AbstractBaseUser, project: Project, now: datetime) -> None:
    """An autosave extends the user's lease on the entry, if the user still holds it."""
    QueueEntry.objects.filter(
        pk=entry_id, project=project, status=EntryStatus.LEASED, leased_to=user
    ).update(lease_expires_at=now + timedelta(minutes=project.lease_minutes), updated_at=now)


def complete_entry(entry: QueueEntry, user: AbstractBaseUser, now: datetime,
                   counted: int) -> None:
    """After a submit: done once the frame has enough labels, else open for a second annotator.

    `counted` is the frame's number of submitted/accepted labels, the new one included. Call
    inside the submitting transaction, with the entry row locked (check_lease_for_submit).
    """
    status = EntryStatus.DONE if counted >= entry.labels_required else EntryStatus.OPEN
    updated = QueueEntry.objects.filter(
        pk=entry.pk, status=EntryStatus.LEASED, leased_to=user
    ).update(status=status, leased_to=None if status == EntryStatus.OPEN else user,
             lease_expires_at=None, assigned_to=None, updated_at=now)
    if updated != 1:
        raise Conflict("Your lease on this frame has ended.")


def settle_open_entry(frame_id: int) -> None:
    """A frame labeled outside its lease (import, direct submit): its open entry is done once
    it has enough labels. Leased entries are left to their holder. Conditional UPDATE.
    """
    entry = QueueEntry.objects.filter(frame_id=frame_id, status=EntryStatus.OPEN).first()
    if entry is None:
        return
    counted = Label.objects.filter(frame_id=frame_id, status__in=COUNTED_STATUSES).count()
    if counted >= entry.labels_required:
        QueueEntry.objects.filter(pk=entry.pk, status=EntryStatus.OPEN).update(
            status=EntryStatus.DONE, updated_at=timezone.now())


def _per_frame(ids: list[int], values: Mapping[int, Any] | Sequence[Any] | None,
               default: Any) -> dict[int, Any]:
    if values is None:
        return {fid: default for fid in ids}
    if isinstance(values, Mapping):
        return {fid: values.get(fid, default) for fid in ids}
    if len(values) != len(ids):
        raise ValueError("priorities/components must align with frame_ids")
    return dict(zip(ids, values, strict=True))


def _enqueue_chunk(project: Project, ids: list[int], reason: QueueReason,
                   priorities: dict[int, float], components: dict[int, dict],
                   model_version_id: int | None, allow_flagged: bool) -> tuple[int, int]:
    now = timezone.now()
    skip = set()
    if reason != QueueReason.REVIEW:
        skip |= set(Label.objects.filter(frame_id__in=ids, status__in=COUNTED_STATUSES)
                    .values_list("frame_id", flat=True))
    if not allow_flagged:
        skip |= set(QueueEntry.objects.filter(frame_id__in=ids, status=EntryStatus.FLAGGED)
                    .values_list("frame_id", flat=True))
    valid = set(Frame.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
    live = dict(QueueEntry.objects.filter(frame_id__in=ids, status__in=LIVE_STATUSES)
                .values_list("frame_id", "pk"))
    updated, new = 0, []
    for fid in ids:
        if fid not in valid or fid in skip:
            continue
        if fid in live:
            updated += QueueEntry.objects.filter(pk=live[fid], status=EntryStatus.OPEN).update(
                priority=priorities[fid], reason=reason, components=components[fid],
                model_version_id=model_version_id, updated_at=now)
            continue
        new.append(QueueEntry(
            project=project, frame_id=fid, priority=priorities[fid], reason=reason,
            components=components[fid], model_version_id=model_version_id,
            labels_required=labels_required_for(project.pk, fid, project.double_label_fraction),
        ))
    QueueEntry.objects.bulk_create(new, ignore_conflicts=True)
    return len(new), updated


def enqueue_frames(project_id: int, frame_ids: Iterable[int], *, reason: str,
                   priorities: Mapping[int, float] | Sequence[float] | None = None,
                   components: Mapping[int, dict] | Sequence[dict] | None = None,
                   model_version_id: int | None = None,
                   within_queue_size: bool = False) -> int:
    """Upsert queue entries for frames of the project; returns how many were created or re-ranked.

    `within_queue_size` (model refills): new entries stop at the project's queue size, the
    highest priorities first, counted under the project row lock, so two refills finishing at
    once (the 2D scoring and the 3D-consistency scoring) cannot overfill the queue.

    Open entries are re-ranked in place (priority, reason, components, model version); leased
    ones are left alone; frames with a submitted/accepted label are skipped unless
    `reason == "review"`, and flagged frames are skipped. Frames of other projects are ignored.
    `priorities`/`components` map frame id → value, or align with `frame_ids`. Atomic; the
    `one_live_entry_per_frame` constraint (INSERT … ON CONFLICT DO NOTHING) keeps concurrent
    calls from duplicating an entry, and re-ranking is a conditional UPDATE on status=open.
    """
    if not within_queue_size:
        created, updated = _enqueue(project_id, frame_ids, QueueReason(reason), priorities,
                                    components, model_version_id, allow_flagged=False)
        return created + updated
    ids = list(dict.fromkeys(int(f) for f in frame_ids))
    prio = _per_frame(ids, priorities, 0.0)
    comps = _per_frame(ids, components, {})
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project_id)
        live = QueueEntry.objects.filter(project_id=project_id, status__in=LIVE_STATUSES)
        queued = set(live.filter(frame_id__in=ids).values_list("frame_id", flat=True))
        room = max(0, project.queue_size - live.count())
        fresh = set(sorted((f for f in ids if f not in queued), key=lambda f: -prio[f])[:room])
        kept = [f for f in ids if f in queued or f in fresh]
        created, updated = _enqueue(project_id, kept, QueueReason(reason), prio, comps,
                                    model_version_id, allow_flagged=False)
    return created + updated


def _enqueue(project_id: int, frame_ids: Iterable[int], reason: QueueReason,
             priorities: Any, components: Any, model_version_id: int | None,
             allow_flagged: bool) -> tuple[int, int]:
    ids = list(dict.fromkeys(int(f) for f in frame_ids))
    prio = _per_frame(ids, priorities, 0.0)
    comps = _per_frame(ids, components, {})
    project = Project.objects.get(pk=project_id)
    created = updated = 0
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            c, u = _enqueue_chunk(project, chunk, reason, prio, comps, model_version_id,
                                  allow_flagged)
            created, updated = created + c, updated + u
    return created, updated


def rerank_open_entries(project_id: int, scores: Scores, model_version_id: int | None) -> int:
    """Set priority and components of open entries from `scores` (frame id → (priority,
    components)); leased and finished entries are untouched. Returns how many changed.
    Conditional UPDATEs on status=open inside one transaction.
    """
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        for frame_id, (priority, comps) in scores.items():
            changed += QueueEntry.objects.filter(
                project_id=project_id, frame_id=frame_id, status=EntryStatus.OPEN
            ).update(priority=float(priority), components=comps,
                     model_version_id=model_version_id, updated_at=now)
    return changed


def queue_state(project_id: int, model_reasons: Iterable[str], version_id: int | None
                ) -> tuple[int, list[int], set[int]]:
    """What a queue refill needs to know, read-only: (live entries, frames of open unpinned
    entries with one of `model_reasons` scored by a model other than `version_id`, frames that
    ever had an entry)."""
    entries = QueueEntry.objects.filter(project_id=project_id)
    live = entries.filter(status__in=LIVE_STATUSES).count()
    stale = list(entries.filter(status=EntryStatus.OPEN, pinned=False,
                                reason__in=list(model_reasons))
                 .exclude(model_version_id=version_id).values_list("frame_id", flat=True))
    ever = set(entries.values_list("frame_id", flat=True))
    return live, stale, ever


def add_frames(project: Project, frame_ids: list[int], *, pinned: bool = False,
               priority: float | None = None) -> dict[str, Any]:
    """The PI adds frames by hand (flagged ones too) or pins them; labeled frames are ignored.

    Returns {"created", "updated", "ignored_frame_ids"}. Atomic, as `enqueue_frames`.
    """
    ids = list(dict.fromkeys(frame_ids))
    unknown = set(ids) - set(Frame.objects.filter(project=project, pk__in=ids)
                             .values_list("pk", flat=True))
    if unknown:
        raise ValidationError({"frame_ids": f"Not frames of this project: {sorted(unknown)}."})
    live = QueueEntry.objects.filter(frame_id__in=ids, status__in=LIVE_STATUSES)
    with transaction.atomic():
        queued_before = set(live.values_list("frame_id", flat=True))
        fresh = [fid for fid in ids if fid not in queued_before]
        created, _ = _enqueue(project.pk, fresh, QueueReason.MANUAL,
                              None if priority is None else dict.fromkeys(fresh, priority),
                              None, None, allow_flagged=True)
        changes: dict[str, Any] = {"pinned": pinned, "updated_at": timezone.now()}
        if priority is not None:
            changes["priority"] = priority
        updated = live.update(**changes)
        queued = set(live.values_list("frame_id", flat=True))
    return {"created": created, "updated": updated - created,
            "ignored_frame_ids": [fid for fid in ids if fid not in queued]}


def update_entry(project: Project, entry_id: int, *, pinned: bool | None = None,
                 priority: float | None = None) -> QueueEntry:
    """The PI pins/unpins an entry or sets its priority (single-row UPDATE)."""
    entry = QueueEntry.objects.filter(pk=entry_id, project=project).first()
    if entry is None:
        raise Http404("No such queue entry.")
    fields = ["updated_at"]
    if pinned is not None:
        entry.pinned = pinned
        fields.append("pinned")
    if priority is not None:
        entry.priority = priority
        fields.append("priority")
    entry.save(update_fields=fields)
    return entry


def clear_queue(project: Project) -> int:
    """Remove every open entry (kept as `removed`); leased entries stay. One UPDATE."""
    return QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN).update(
        status=EntryStatus.REMOVED, updated_at=timezone.now())


def send_back(label: Label) -> None:
    """A rejected label's frame returns to the queue, pinned and assigned to its annotator.

    Call inside the review transaction (label row locked). An open entry is re-assigned; a
    leased one is left to its holder; otherwise a new entry is created (the live-entry
    constraint settles a race with a concurrent enqueue in a savepoint).
    """
    now = timezone.now()
    changes = {"assigned_to_id": label.annotator_id, "pinned": True,
               "reason": QueueReason.REVIEW, "updated_at": now}
    entries = QueueEntry.objects.filter(frame_id=label.frame_id)
    if entries.filter(status=EntryStatus.OPEN).update(**changes):
        return
    if entries.filter(status=EntryStatus.LEASED).exists():
        return
    project = label.project
    try:
        with transaction.atomic():
            QueueEntry.objects.create(
                project=project, frame_id=label.frame_id, reason=QueueReason.REVIEW, pinned=True,
                assigned_to_id=label.annotator_id,
                labels_required=labels_required_for(project.pk, label.frame_id,
                                                    project.double_label_fraction),
            )
    except IntegrityError:
        entries.filter(status=EntryStatus.OPEN).update(**changes)

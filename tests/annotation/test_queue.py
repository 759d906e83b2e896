"""The queue services: leasing, expiry, skip/flag/release, PI edits, enqueue upserts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation import queue
from annotation.errors import Conflict
from annotation.labels import save_label
from annotation.models import EntryStatus, LabelStatus, QueueEntry, QueueReason
from tests.annotation.factories import FrameFactory, LabelFactory, points_for
from videos.models import Frame
from videos.signals import frames_added

pytestmark = pytest.mark.django_db


def enqueue(project, frames, priorities=None, **kw):
    kw.setdefault("reason", "uncertainty")
    return queue.enqueue_frames(project.pk, [f.pk for f in frames], priorities=priorities, **kw)


def submit(project, entry, user, version=0):
    return save_label(project, entry.frame, user, points_for(project), base_version=version,
                      entry_id=entry.pk, submit=True)


def test_lease_order_is_pinned_then_priority(project, frames, users):
    enqueue(project, frames, priorities=[0.1, 0.9, 0.5, 0.3, 0.2])
    QueueEntry.objects.filter(frame=frames[4]).update(pinned=True)
    order = []
    for _ in frames:
        entry = queue.lease_next(project, users["annotator"])
        order.append(entry.frame_id)
        queue.skip_entry(project, entry.pk, users["annotator"], "next")
    assert order == [frames[i].pk for i in (4, 1, 2, 3, 0)]
    assert queue.lease_next(project, users["annotator"]) is None


def test_holder_gets_the_same_lease_back_renewed(project, frames, users):
    enqueue(project, frames)
    now = timezone.now()
    first = queue.lease_next(project, users["annotator"], now=now)
    again = queue.lease_next(project, users["annotator"], now=now + timedelta(minutes=1))
    assert again.pk == first.pk
    assert again.lease_expires_at > first.lease_expires_at
    assert QueueEntry.objects.filter(status=EntryStatus.LEASED).count() == 1


def test_holder_gets_the_lease_back_when_nothing_else_is_queued(project, users):
    frame = FrameFactory(project=project)
    enqueue(project, [frame])
    first = queue.lease_next(project, users["annotator"])
    assert queue.lease_next(project, users["annotator"]).pk == first.pk


def test_holder_of_an_expired_lease_gets_it_back_before_a_better_entry(project, frames, users):
    enqueue(project, frames[:1], priorities=[0.1])
    now = timezone.now()
    held = queue.lease_next(project, users["annotator"], now=now)
    enqueue(project, frames[1:2], priorities=[0.9])
    later = now + timedelta(minutes=project.lease_minutes, seconds=1)
    again = queue.lease_next(project, users["annotator"], now=later)
    assert again.pk == held.pk and again.lease_expires_at > later
    assert QueueEntry.objects.get(frame=frames[1]).status == EntryStatus.OPEN


def test_lease_carries_the_id_of_my_label_of_the_frame(project, frames, users, annotator2):
    enqueue(project, frames[:1])
    LabelFactory(frame=frames[0], annotator=annotator2, status=LabelStatus.DRAFT)
    assert queue.lease_next(project, users["annotator"]).my_label_id is None
    queue.release_entry(project, QueueEntry.objects.get().pk, users["annotator"])
    mine = LabelFactory(frame=frames[0], annotator=users["annotator"], status=LabelStatus.DRAFT)
    assert queue.lease_next(project, users["annotator"]).my_label_id == mine.pk


def test_two_users_never_get_the_same_entry(project, frames, users, annotator2):
    enqueue(project, frames)
    a = queue.lease_next(project, users["annotator"])
    b = queue.lease_next(project, annotator2)
    assert a.pk != b.pk


def test_expired_lease_counts_as_open(project, users, annotator2):
    frame = FrameFactory(project=project)
    enqueue(project, [frame])
    now = timezone.now()
    held = queue.lease_next(project, users["annotator"], now=now)
    assert queue.lease_next(project, annotator2, now=now) is None
    later = now + timedelta(minutes=project.lease_minutes, seconds=1)
    taken = queue.lease_next(project, annotator2, now=later)
    assert taken.pk == held.pk
    assert QueueEntry.objects.get(pk=held.pk).leased_to == annotator2


def test_one_lease_per_user_is_a_database_constraint(project, frames, users):
    enqueue(project, frames)
    queue.lease_next(project, users["annotator"])
    other = QueueEntry.objects.filter(status=EntryStatus.OPEN).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueEntry.objects.filter(pk=other.pk).update(
            status=EntryStatus.LEASED, leased_to=users["annotator"],
            lease_expires_at=timezone.now())


def test_skip_flag_release(project, frames, users):
    enqueue(project, frames[:3], priorities=[3, 2, 1])
    annotator = users["annotator"]
    entry = queue.lease_next(project, annotator)
    queue.release_entry(project, entry.pk, annotator)
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.OPEN
    entry = queue.lease_next(project, annotator)
    queue.skip_entry(project, entry.pk, annotator, "too blurry to tell")
    skipped = QueueEntry.objects.get(pk=entry.pk)
    assert (skipped.status, skipped.status_note) == (EntryStatus.SKIPPED, "too blurry to tell")
    entry = queue.lease_next(project, annotator)
    queue.flag_entry(project, entry.pk, annotator, "no animal")
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.FLAGGED
    # A flagged frame is never queued again automatically.
    assert enqueue(project, [entry.frame]) == 0


def test_only_the_holder_can_skip(project, frames, users, annotator2):
    enqueue(project, frames)
    entry = queue.lease_next(project, users["annotator"])
    with pytest.raises(Conflict):
        queue.skip_entry(project, entry.pk, annotator2, "mine now")
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.LEASED


def test_pin_add_and_clear(project, frames, users):
    enqueue(project, frames[:3])
    result = queue.add_frames(project, [frames[3].pk, frames[0].pk], pinned=True, priority=5.0)
    assert result == {"created": 1, "updated": 1, "ignored_frame_ids": []}
    leased = queue.lease_next(project, users["annotator"])
    assert leased.frame_id in {frames[0].pk, frames[3].pk}
    assert queue.clear_queue(project) == 3
    assert list(QueueEntry.objects.filter(status__in=["open", "leased"])) == [leased]


def test_add_frames_refuses_foreign_frames(project, users):
    foreign = FrameFactory()
    with pytest.raises(ValidationError):
        queue.add_frames(project, [foreign.pk])


def test_update_entry_sets_priority_and_pin(project, frames):
    enqueue(project, frames[:1])
    entry = QueueEntry.objects.get()
    queue.update_entry(project, entry.pk, pinned=True, priority=7.5)
    entry.refresh_from_db()
    assert (entry.pinned, entry.priority) == (True, 7.5)


def test_enqueue_upserts_without_touching_leases(project, frames, users):
    assert enqueue(project, frames[:2], priorities=[1.0, 2.0]) == 2
    leased = queue.lease_next(project, users["annotator"])  # frames[1], priority 2
    changed = enqueue(project, frames[:3], priorities=[5.0, 6.0, 7.0], model_version_id=3,
                      components=[{"u": 1.0}] * 3)
    assert changed == 2  # frames[0] re-ranked, frames[2] created; the lease untouched
    assert QueueEntry.objects.count() == 3
    held = QueueEntry.objects.get(pk=leased.pk)
    assert (held.priority, held.status, held.model_version_id) == (2.0, "leased", None)
    reranked = QueueEntry.objects.get(frame=frames[0])
    assert (reranked.priority, reranked.model_version_id, reranked.components) == (
        5.0, 3, {"u": 1.0})


def test_model_refills_stop_at_the_queue_size_best_first(project, frames):
    project.queue_size = 3
    project.save(update_fields=["queue_size"])
    assert enqueue(project, frames[:2], priorities=[1.0, 1.0], within_queue_size=True) == 2
    # A second refill (say the 3D scoring, finishing after the 2D one) has room for one more:
    # its best frame goes in; re-ranking the queued frames[0] still happens.
    changed = enqueue(project, [frames[0], frames[2], frames[3]], priorities=[9.0, 2.0, 5.0],
                      within_queue_size=True)
    assert changed == 2
    open_frames = set(QueueEntry.objects.values_list("frame_id", flat=True))
    assert open_frames == {frames[0].pk, frames[1].pk, frames[3].pk}
    assert QueueEntry.objects.get(frame=frames[0]).priority == 9.0
    assert enqueue(project, frames[4:5], within_queue_size=True) == 0  # full
    assert enqueue(project, frames[4:5]) == 1  # the PI's and other callers' adds are not capped


def test_labeled_frames_are_not_requeued_unless_review(project, frames, users):
    LabelFactory(project=project, frame=frames[0], annotator=users["annotator"])
    assert enqueue(project, frames[:1]) == 0
    assert enqueue(project, frames[:1], reason="review") == 1


def test_enqueue_ignores_frames_of_other_projects(project):
    assert enqueue(project, [FrameFactory()]) == 0


def test_rerank_open_entries(project, frames, users):
    enqueue(project, frames[:2])
    leased = queue.lease_next(project, users["annotator"])
    other = QueueEntry.objects.exclude(pk=leased.pk).get()
    scores = {other.frame_id: (9.0, {"rmse": 2.0}), leased.frame_id: (9.0, {})}
    assert queue.rerank_open_entries(project.pk, scores, model_version_id=4) == 1
    other.refresh_from_db()
    assert (other.priority, other.components, other.model_version_id) == (9.0, {"rmse": 2.0}, 4)


def test_frames_added_signal_enqueues(project):
    new = FrameFactory.create_batch(3, project=project)
    frames_added.send(sender=Frame, project_id=project.pk, frame_ids=[f.pk for f in new],
                      reason="diversity")
    entries = QueueEntry.objects.filter(project=project)
    assert sorted(entries.values_list("frame_id", flat=True)) == sorted(f.pk for f in new)
    assert set(entries.values_list("reason", flat=True)) == {QueueReason.DIVERSITY}


def test_labels_required_follows_the_double_label_fraction(project):
    assert {queue.labels_required_for(project.pk, f, 0.0) for f in range(200)} == {1}
    assert {queue.labels_required_for(project.pk, f, 1.0) for f in range(200)} == {2}
    half = [queue.labels_required_for(project.pk, f, 0.5) for f in range(2000)]
    assert 0.4 < half.count(2) / 2000 < 0.6
    assert half == [queue.labels_required_for(project.pk, f, 0.5) for f in range(2000)]


def test_double_labeled_frame_goes_to_a_second_annotator(project, users, annotator2):
    project.double_label_fraction = 1.0
    project.save()
    frame = FrameFactory(project=project)
    enqueue(project, [frame])
    first = queue.lease_next(project, users["annotator"])
    assert first.labels_required == 2
    assert queue.lease_next(project, annotator2) is None  # never two people at once
    submit(project, first, users["annotator"])
    assert QueueEntry.objects.get(pk=first.pk).status == EntryStatus.OPEN
    assert queue.lease_next(project, users["annotator"]) is None  # never twice to one person
    second = queue.lease_next(project, annotator2)
    assert second.pk == first.pk
    submit(project, second, annotator2)
    assert QueueEntry.objects.get(pk=first.pk).status == EntryStatus.DONE
    assert frame.labels.filter(status=LabelStatus.SUBMITTED).count() == 2


def test_single_labeled_frame_is_done_after_one_submit(project, users):
    frame = FrameFactory(project=project)
    enqueue(project, [frame])
    entry = queue.lease_next(project, users["annotator"])
    submit(project, entry, users["annotator"])
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.DONE
    assert queue.lease_next(project, users["pi"]) is None


def test_assigned_entries_go_only_to_their_annotator(project, users, annotator2):
    frame = FrameFactory(project=project)
    enqueue(project, [frame])
    QueueEntry.objects.update(assigned_to=users["annotator"])
    assert queue.lease_next(project, annotator2) is None
    assert queue.lease_next(project, users["annotator"]).frame_id == frame.pk

"""Many annotators at once: no frame leased twice, no label lost, counts add up.

Runs against PostgreSQL (marked `postgres`, skipped unless DATABASE_URL is PostgreSQL) and
against SQLite when the test database is a file (IMMEDIATE transactions serialize writers).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections, transaction

from accounts.models import Role
from annotation import queue
from annotation.agreement import lock_counted_points
from annotation.labels import save_label
from annotation.models import EntryStatus, Label, LabelRevision, QueueEntry
from tests.annotation.factories import FrameFactory, points_for
from tests.factories import MembershipFactory

N_THREADS = 12
N_FRAMES = 60


def run_threads(target, items, timeout):
    """One thread per item running target(item), all started, then joined."""
    threads = [threading.Thread(target=target, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)


def run_annotators(project, users) -> tuple[Counter, list[Exception]]:
    leases: Counter = Counter()
    errors: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))

    def work(user):
        try:
            barrier.wait()
            while True:
                entry = queue.lease_next(project, user)
                if entry is None:
                    return
                with lock:
                    leases[entry.frame_id] += 1
                save_label(project, entry.frame, user, points_for(project), base_version=0,
                           entry_id=entry.pk, submit=True)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    run_threads(work, users, timeout=120)
    return leases, errors


def check_many_annotators():
    project = MembershipFactory(role=Role.PI).project
    users = [MembershipFactory(project=project, role=Role.ANNOTATOR).user
             for _ in range(N_THREADS)]
    frames = FrameFactory.create_batch(N_FRAMES, project=project)
    queue.enqueue_frames(project.pk, [f.pk for f in frames], reason="manual",
                         priorities=[float(i % 7) for i in range(N_FRAMES)])
    leases, errors = run_annotators(project, users)
    assert errors == []
    assert len(leases) == N_FRAMES and set(leases.values()) == {1}  # each frame leased once
    assert Label.objects.filter(project=project, status="submitted").count() == N_FRAMES
    assert LabelRevision.objects.filter(label__project=project).count() == N_FRAMES
    assert QueueEntry.objects.filter(project=project, status=EntryStatus.DONE).count() == N_FRAMES


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_annotators_postgres():
    assert connection.vendor == "postgresql"
    check_many_annotators()


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_many_annotators_sqlite_file():
    assert connection.vendor == "sqlite" and not connection.is_in_memory_db()
    check_many_annotators()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_labels_of_one_frame_saved_at_once_take_turns_on_the_frame():
    """Both labels are written before either transaction locks the frame (as in a submit):
    the second to get the lock reads the first's label, so the agreement is never left out."""
    project = MembershipFactory(role=Role.PI).project
    users = [MembershipFactory(project=project, role=Role.ANNOTATOR).user for _ in range(2)]
    frame = FrameFactory(project=project)
    inserted = threading.Barrier(2)
    counts: list[int] = []
    errors: list[Exception] = []

    def submit(user):
        try:
            with transaction.atomic():
                Label.objects.create(project=project, frame=frame, annotator=user,
                                     points=points_for(project), status="submitted")
                inserted.wait(timeout=10)  # both labels written, neither committed
                counts.append(len(lock_counted_points(frame.pk)))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    run_threads(submit, users, timeout=60)
    assert errors == []
    assert sorted(counts) == [1, 2]

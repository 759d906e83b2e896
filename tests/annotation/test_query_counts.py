"""Database queries of the labeling loop's two hot endpoints, pinned so they cannot creep up.

Every annotator request is a lease (POST queue/next/) or a save (PUT frames/<id>/label/), so
one query more is paid on every request. Transaction control (BEGIN, SAVEPOINT, COMMIT…) is
left out of the counts: it differs between the databases and between tests and production.
If a change needs a query more, raise the number here and say why in the commit.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import queue
from annotation.models import AgreementRecord, EntryStatus, Label, LabelStatus, QueueEntry
from tests.annotation.factories import LabelFactory, points_for

pytestmark = pytest.mark.django_db

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def count_queries(call, capture_on_commit):
    """(response, the SQL it ran): on-commit work (the retrain trigger) included."""
    with CaptureQueriesContext(connection) as ctx, capture_on_commit(execute=True):
        response = call()
    sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(CONTROL)]
    return response, sql


def lease(project, client):
    return client.post(f"/api/projects/{project.pk}/queue/next/")


def save(project, client, frame_id, *, version, entry_id, submit):
    """A PUT of the label, ready to call (its body is built before the queries are counted)."""
    body = {"points": points_for(project), "version": version, "seconds_spent": 2.0,
            "source": "human", "request_id": str(uuid.uuid4()), "entry": entry_id,
            "submit": submit}
    return lambda: client.put(f"/api/projects/{project.pk}/frames/{frame_id}/label/", body,
                              format="json")


@pytest.fixture
def queued(project, frames):
    queue.enqueue_frames(project.pk, [f.pk for f in frames], reason="diversity")
    return frames


def test_lease_of_a_fresh_frame(project, queued, as_user, django_capture_on_commit_callbacks):
    client = as_user("annotator")
    response, sql = count_queries(lambda: lease(project, client),
                                  django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["label"] is None
    # Membership + project; the claim (SELECT … SKIP LOCKED, with the user's label id); its UPDATE.
    assert len(sql) == 3, sql


def test_lease_of_a_frame_with_my_draft(project, queued, as_user, users,
                                        django_capture_on_commit_callbacks):
    LabelFactory(frame=queued[0], annotator=users["annotator"], status=LabelStatus.DRAFT)
    client = as_user("annotator")
    response, sql = count_queries(lambda: lease(project, client),
                                  django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["label"]["status"] == "draft"
    assert len(sql) == 4, sql  # + the draft itself


def test_submit_of_a_first_label(project, queued, as_user, django_capture_on_commit_callbacks):
    client = as_user("annotator")
    leased = lease(project, client).json()
    frame_id, entry_id = leased["frame"]["id"], leased["entry"]["id"]
    response, sql = count_queries(
        save(project, client, frame_id, version=0, entry_id=entry_id, submit=True),
        django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.json()
    assert QueueEntry.objects.get(pk=entry_id).status == EntryStatus.DONE
    # Membership, frame, body parts; label lock, entry lock, label, revision; frame lock,
    # counted labels, entry done; then the retrain trigger (project with "training active?"
    # and the last snapshot in one query, new labels up to the threshold).
    assert len(sql) == 12, sql


def test_autosave_of_an_existing_label(project, queued, as_user,
                                       django_capture_on_commit_callbacks):
    client = as_user("annotator")
    leased = lease(project, client).json()
    frame_id, entry_id = leased["frame"]["id"], leased["entry"]["id"]
    save(project, client, frame_id, version=0, entry_id=entry_id, submit=False)()
    response, sql = count_queries(
        save(project, client, frame_id, version=1, entry_id=entry_id, submit=False),
        django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["label"]["version"] == 2
    # Membership, frame, body parts; label lock, label UPDATE, revision; lease renewal.
    assert len(sql) == 7, sql


def test_submit_of_a_second_label_stores_agreement(project, queued, as_user, users,
                                                   annotator2,
                                                   django_capture_on_commit_callbacks):
    LabelFactory(frame=queued[0], annotator=annotator2)
    QueueEntry.objects.filter(frame=queued[0]).update(labels_required=2)
    client = as_user("annotator")
    leased = lease(project, client).json()
    assert leased["frame"]["id"] == queued[0].pk
    response, sql = count_queries(
        save(project, client, queued[0].pk, version=0, entry_id=leased["entry"]["id"],
             submit=True),
        django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert Label.objects.filter(frame=queued[0], status=LabelStatus.SUBMITTED).count() == 2
    assert AgreementRecord.objects.filter(frame=queued[0]).count() == project.bodyparts.count()
    # As a first label, plus the agreement: old records deleted, new ones inserted.
    assert len(sql) == 14, sql

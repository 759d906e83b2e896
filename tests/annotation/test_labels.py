"""Saving labels through the API: validation, versions, idempotency, leases, history."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import queue
from annotation.labels import import_label
from annotation.models import EntryStatus, Label, LabelRevision, LabelStatus, QueueEntry
from annotation.signals import labels_changed
from tests.annotation.factories import FrameFactory, points_for

pytestmark = pytest.mark.django_db


def url(project, frame_id):
    return f"/api/projects/{project.pk}/frames/{frame_id}/label/"


def body(project, version=0, **kw):
    data = {"points": points_for(project), "version": version, "seconds_spent": 3.5,
            "source": "human", "request_id": str(uuid.uuid4()), "entry": None, "submit": False}
    data.update(kw)
    return data


def nothing_saved():
    return Label.objects.count() == 0 and LabelRevision.objects.count() == 0


def test_first_save_creates_version_1(project, frames, as_user):
    response = as_user("annotator").put(url(project, frames[0].pk), body(project), format="json")
    assert response.status_code == 200, response.json()
    label = response.json()["label"]
    assert (label["version"], label["status"], label["seconds_spent"]) == (1, "draft", 3.5)
    assert [p["bodypart"] for p in label["points"]] == list(
        project.bodyparts.order_by("order").values_list("pk", flat=True))


def test_get_my_label(project, frames, as_user, users):
    client = as_user("annotator")
    assert client.get(url(project, frames[0].pk)).status_code == 404
    client.put(url(project, frames[0].pk), body(project), format="json")
    response = client.get(url(project, frames[0].pk))
    assert response.status_code == 200
    assert response.json()["annotator"] == users["annotator"].username


def test_points_are_stored_in_body_part_order(project, frames, as_user):
    points = list(reversed(points_for(project)))
    response = as_user("annotator").put(url(project, frames[0].pk), body(project, points=points),
                                        format="json")
    stored = response.json()["label"]["points"]
    assert stored == points_for(project)


@pytest.mark.parametrize("change, message", [
    (lambda p: p[0].update(x=641.0), "outside"),
    (lambda p: p[0].update(y=-0.1), "outside"),
    (lambda p: p[0].update(x="NaN"), "finite"),
    (lambda p: p[0].update(x=None), "finite"),
    (lambda p: p[0].update(state="hidden"), "unknown state"),
    (lambda p: p[0].update(bodypart=999_999), "not a body part"),
    (lambda p: p.pop(), "Missing"),
    (lambda p: p.append(dict(p[0])), "twice"),
    (lambda p: p[1].update(state="absent"), "absent point has null"),
])
def test_invalid_points_are_refused_and_nothing_changes(project, frames, as_user, change, message):
    points = points_for(project)
    change(points)
    response = as_user("annotator").put(url(project, frames[0].pk), body(project, points=points),
                                        format="json")
    assert response.status_code == 400
    assert message in str(response.json())
    assert nothing_saved()


def test_absent_points_and_image_edges_are_fine(project, frames, as_user):
    points = points_for(project, xy=(640.0, 480.0))
    points[0] = {"bodypart": points[0]["bodypart"], "x": None, "y": None, "state": "absent"}
    points[1].update(x=0, y=0, state="occluded")
    response = as_user("annotator").put(url(project, frames[0].pk), body(project, points=points),
                                        format="json")
    assert response.status_code == 200, response.json()


def test_body_part_of_another_project_is_refused(project, frames, as_user, users):
    other = FrameFactory()
    points = points_for(project)
    points[0]["bodypart"] = other.project.bodyparts.first().pk
    response = as_user("annotator").put(url(project, frames[0].pk), body(project, points=points),
                                        format="json")
    assert response.status_code == 400
    assert nothing_saved()


def test_frame_of_another_project_is_404(project, as_user):
    other = FrameFactory()
    response = as_user("annotator").put(url(project, other.pk), body(project), format="json")
    assert response.status_code == 404
    assert nothing_saved()


def test_stale_version_is_409_with_the_current_label(project, frames, as_user):
    client = as_user("annotator")
    client.put(url(project, frames[0].pk), body(project), format="json")
    client.put(url(project, frames[0].pk), body(project, version=1), format="json")
    stale = body(project, version=1, points=points_for(project, xy=(1.0, 1.0)))
    response = client.put(url(project, frames[0].pk), stale, format="json")
    assert response.status_code == 409
    assert response.json()["current"]["version"] == 2
    assert "stale" in response.json()["detail"]
    assert Label.objects.get().version == 2
    assert LabelRevision.objects.count() == 2


def test_new_label_with_nonzero_version_is_409(project, frames, as_user):
    response = as_user("annotator").put(url(project, frames[0].pk), body(project, version=4),
                                        format="json")
    assert response.status_code == 409
    assert response.json()["current"] is None
    assert nothing_saved()


def test_same_request_id_is_idempotent(project, frames, as_user):
    client = as_user("annotator")
    first = body(project)
    a = client.put(url(project, frames[0].pk), first, format="json")
    b = client.put(url(project, frames[0].pk), first, format="json")
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert LabelRevision.objects.count() == 1
    # The replay stays the same answer after later saves.
    client.put(url(project, frames[0].pk), body(project, version=1), format="json")
    c = client.put(url(project, frames[0].pk), first, format="json")
    assert c.json()["label"]["version"] == 1
    assert Label.objects.get().version == 2


def test_history_is_append_only_and_complete(project, frames, as_user, users):
    client = as_user("annotator")
    for version, x in enumerate([1.0, 2.0, 3.0]):
        client.put(url(project, frames[0].pk),
                   body(project, version=version, points=points_for(project, xy=(x, x))),
                   format="json")
    label = Label.objects.get()
    history = client.get(f"/api/projects/{project.pk}/labels/{label.pk}/history/").json()
    assert [h["version"] for h in history] == [1, 2, 3]
    assert [h["points"][0]["x"] for h in history] == [1.0, 2.0, 3.0]
    assert {h["saved_by"] for h in history} == {users["annotator"].username}


def lease(project, user):
    return queue.lease_next(project, user)


def test_submit_with_my_lease_completes_the_entry(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    entry = lease(project, users["annotator"])
    sent = []
    labels_changed.connect(lambda **kw: sent.append(kw["frame_id"]), weak=False,
                           dispatch_uid="test-submit")
    try:
        response = as_user("annotator").put(
            url(project, frames[0].pk), body(project, entry=entry.pk, submit=True), format="json")
    finally:
        labels_changed.disconnect(dispatch_uid="test-submit")
    assert response.status_code == 200
    assert response.json()["label"]["status"] == "submitted"
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.DONE
    assert sent == []  # on commit: the test transaction never commits


def test_retried_submit_replays_after_the_entry_is_done(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    entry = lease(project, users["annotator"])
    client = as_user("annotator")
    submit = body(project, entry=entry.pk, submit=True)
    a = client.put(url(project, frames[0].pk), submit, format="json")
    b = client.put(url(project, frames[0].pk), submit, format="json")
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert LabelRevision.objects.count() == 1
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.DONE


def test_labels_changed_is_sent_on_commit(project, frames, as_user, users,
                                          django_capture_on_commit_callbacks):
    sent = []
    labels_changed.connect(lambda **kw: sent.append(kw), weak=False, dispatch_uid="test-commit")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            as_user("annotator").put(url(project, frames[0].pk), body(project, submit=True),
                                     format="json")
    finally:
        labels_changed.disconnect(dispatch_uid="test-commit")
    assert sent[0]["frame_id"] == frames[0].pk
    assert sent[0]["annotator_id"] == users["annotator"].pk


def test_submit_on_someone_elses_lease_is_403(project, frames, as_user, users, annotator2):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    entry = lease(project, annotator2)
    response = as_user("annotator").put(
        url(project, frames[0].pk), body(project, entry=entry.pk, submit=True), format="json")
    assert response.status_code == 403
    assert nothing_saved()
    assert QueueEntry.objects.get(pk=entry.pk).leased_to == annotator2


def test_submit_on_an_expired_lease_is_409(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    entry = lease(project, users["annotator"])
    QueueEntry.objects.filter(pk=entry.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1))
    response = as_user("annotator").put(
        url(project, frames[0].pk), body(project, entry=entry.pk, submit=True), format="json")
    assert response.status_code == 409
    assert nothing_saved()
    assert QueueEntry.objects.get(pk=entry.pk).status == EntryStatus.LEASED


def test_submit_with_an_entry_of_another_frame_is_400(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [frames[1].pk], reason="manual")
    entry = lease(project, users["annotator"])
    response = as_user("annotator").put(
        url(project, frames[0].pk), body(project, entry=entry.pk, submit=True), format="json")
    assert response.status_code == 400
    assert nothing_saved()


def test_autosave_renews_my_lease(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    entry = lease(project, users["annotator"])
    QueueEntry.objects.filter(pk=entry.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=5))
    as_user("annotator").put(url(project, frames[0].pk), body(project, entry=entry.pk),
                             format="json")
    expires = QueueEntry.objects.get(pk=entry.pk).lease_expires_at
    assert expires > timezone.now() + timedelta(minutes=project.lease_minutes - 1)


def test_lease_response_carries_my_draft(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    client = as_user("annotator")
    client.put(url(project, frames[0].pk), body(project), format="json")
    response = client.post(f"/api/projects/{project.pk}/queue/next/")
    assert response.status_code == 200
    data = response.json()
    assert data["frame"]["id"] == frames[0].pk
    assert data["frame"]["image_url"].endswith(f"/frames/{frames[0].pk}/image/")
    assert data["label"]["version"] == 1
    assert set(data["entry"]) == {"id", "priority", "reason", "components", "model_version",
                                  "lease_expires_at"}


def test_empty_queue_is_204(project, as_user):
    assert as_user("annotator").post(f"/api/projects/{project.pk}/queue/next/").status_code == 204


def test_import_label_creates_accepted_label_with_revision(project, frames, users):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    label = import_label(project, frames[0], points_for(project))
    again = import_label(project, frames[0], points_for(project, xy=(5.0, 5.0)))
    assert again.pk == label.pk and again.version == 2
    assert again.status == LabelStatus.ACCEPTED and again.source == "imported"
    assert label.revisions.count() == 2
    assert QueueEntry.objects.get(frame=frames[0]).status == EntryStatus.DONE


def test_progress(project, frames, as_user, users):
    queue.enqueue_frames(project.pk, [f.pk for f in frames], reason="manual")
    client = as_user("annotator")
    entry = client.post(f"/api/projects/{project.pk}/queue/next/").json()["entry"]
    frame_id = QueueEntry.objects.get(pk=entry["id"]).frame_id
    client.put(url(project, frame_id), body(project, entry=entry["id"], submit=True),
               format="json")
    client.post(f"/api/projects/{project.pk}/queue/next/")
    progress = client.get(f"/api/projects/{project.pk}/annotation/progress/").json()
    assert progress == {"mine_today": 1, "mine_total": 1, "project_labeled_frames": 1,
                        "queue_open": 3, "queue_leased": 1}


def test_label_list_annotators_see_their_own(project, frames, as_user, users, annotator2):
    as_user("annotator").put(url(project, frames[0].pk), body(project), format="json")
    as_user("pi").put(url(project, frames[0].pk), body(project), format="json")
    mine = as_user("annotator").get(f"/api/projects/{project.pk}/labels/").json()["results"]
    assert [label["annotator"] for label in mine] == [users["annotator"].username]
    every = as_user("reviewer").get(f"/api/projects/{project.pk}/labels/",
                                    {"frame": frames[0].pk}).json()["results"]
    assert len(every) == 2
    by_pi = as_user("reviewer").get(f"/api/projects/{project.pk}/labels/",
                                    {"annotator": users["pi"].username}).json()["results"]
    assert [label["annotator"] for label in by_pi] == [users["pi"].username]
    other = Label.objects.get(annotator=users["pi"])
    history = as_user("annotator").get(f"/api/projects/{project.pk}/labels/{other.pk}/history/")
    assert history.status_code == 404

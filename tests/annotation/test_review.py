"""Review flows, agreement numbers and consensus keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from annotation import queue
from annotation.agreement import consensus_keypoints, pairwise_distances
from annotation.labels import save_label
from annotation.models import AgreementRecord, EntryStatus, LabelStatus, QueueEntry, Review
from tests.annotation.factories import LabelFactory, points_for

pytestmark = pytest.mark.django_db


def submitted(project, frame, user, xy=(10.0, 20.0), points=None):
    return save_label(project, frame, user, points or points_for(project, xy=xy),
                      base_version=0, submit=True)


def review(client, project, label, **data):
    return client.post(f"/api/projects/{project.pk}/labels/{label.pk}/review/", data,
                       format="json")


def test_next_for_review_skips_my_own(project, frames, as_user, users):
    mine = submitted(project, frames[0], users["pi"])
    other = submitted(project, frames[1], users["annotator"])
    response = as_user("pi").post(f"/api/projects/{project.pk}/review/next/")
    assert response.status_code == 200
    assert response.json()["label"]["id"] == other.pk
    assert response.json()["frame"]["id"] == frames[1].pk
    assert mine.pk != other.pk


def test_next_for_review_shows_other_labels_of_the_frame(project, frames, as_user, users,
                                                         annotator2):
    first = submitted(project, frames[0], users["annotator"])
    second = submitted(project, frames[0], annotator2)
    data = as_user("reviewer").post(f"/api/projects/{project.pk}/review/next/").json()
    assert data["label"]["id"] == first.pk
    assert [label["id"] for label in data["others"]] == [second.pk]


def test_nothing_to_review_is_204(project, as_user):
    assert as_user("reviewer").post(f"/api/projects/{project.pk}/review/next/").status_code == 204


def test_accept(project, frames, as_user, users):
    label = submitted(project, frames[0], users["annotator"])
    response = review(as_user("reviewer"), project, label, decision="accept")
    assert response.status_code == 200
    assert response.json()["label"]["status"] == "accepted"
    assert Review.objects.get().label_version == 1


def test_correct_makes_a_new_version_by_the_reviewer(project, frames, as_user, users):
    label = submitted(project, frames[0], users["annotator"])
    points = points_for(project, xy=(30.0, 40.0))
    response = review(as_user("reviewer"), project, label, decision="correct", points=points)
    data = response.json()["label"]
    assert (data["version"], data["status"], data["source"]) == (2, "accepted", "corrected")
    assert data["annotator"] == users["annotator"].username
    revision = label.revisions.get(version=2)
    assert revision.saved_by == users["reviewer"] and revision.points[0]["x"] == 30.0


def test_correct_with_invalid_points_changes_nothing(project, frames, as_user, users):
    label = submitted(project, frames[0], users["annotator"])
    points = points_for(project, xy=(3000.0, 40.0))
    response = review(as_user("reviewer"), project, label, decision="correct", points=points)
    assert response.status_code == 400
    label.refresh_from_db()
    assert (label.version, label.status) == (1, LabelStatus.SUBMITTED)
    assert not Review.objects.exists()


def test_reject_sends_the_frame_back_to_its_annotator(project, frames, as_user, users,
                                                      annotator2):
    queue.enqueue_frames(project.pk, [frames[0].pk], reason="manual")
    entry = queue.lease_next(project, users["annotator"])
    label = save_label(project, frames[0], users["annotator"], points_for(project),
                       base_version=0, entry_id=entry.pk, submit=True)
    assert review(as_user("reviewer"), project, label, decision="reject").status_code == 400
    response = review(as_user("reviewer"), project, label, decision="reject", note="ears swapped")
    assert response.json()["label"]["status"] == "rejected"
    back = QueueEntry.objects.get(frame=frames[0], status=EntryStatus.OPEN)
    assert (back.assigned_to, back.pinned, back.reason) == (users["annotator"], True, "review")
    assert queue.lease_next(project, annotator2) is None
    again = queue.lease_next(project, users["annotator"])
    assert again.pk == back.pk
    save_label(project, frames[0], users["annotator"], points_for(project), base_version=1,
               entry_id=again.pk, submit=True)
    assert QueueEntry.objects.get(pk=back.pk).status == EntryStatus.DONE


def test_rejected_label_cannot_be_rejected_again(project, frames, as_user, users):
    label = submitted(project, frames[0], users["annotator"])
    review(as_user("reviewer"), project, label, decision="reject", note="no")
    response = review(as_user("pi"), project, label, decision="reject", note="no")
    assert response.status_code == 409


def test_reviewing_my_own_label_is_403(project, frames, as_user, users):
    label = submitted(project, frames[0], users["pi"])
    assert review(as_user("pi"), project, label, decision="accept").status_code == 403


def test_pairwise_distances_on_a_constructed_case():
    a = [{"bodypart": 1, "x": 0.0, "y": 0.0, "state": "visible"},
         {"bodypart": 2, "x": 5.0, "y": 5.0, "state": "visible"}]
    b = [{"bodypart": 1, "x": 3.0, "y": 4.0, "state": "visible"},
         {"bodypart": 2, "x": None, "y": None, "state": "absent"}]
    c = [{"bodypart": 1, "x": 6.0, "y": 8.0, "state": "occluded"},
         {"bodypart": 2, "x": 5.0, "y": 7.0, "state": "visible"}]
    out = pairwise_distances([a, b, c])
    assert out[1] == pytest.approx(((5 + 10 + 5) / 3, 3))
    assert out[2] == pytest.approx((2.0, 1))


def test_agreement_endpoint(project, frames, as_user, users, annotator2):
    parts = list(project.bodyparts.order_by("order"))
    submitted(project, frames[0], users["annotator"], xy=(10.0, 10.0))
    submitted(project, frames[0], annotator2, xy=(13.0, 14.0))
    submitted(project, frames[1], users["annotator"], xy=(10.0, 10.0))
    submitted(project, frames[1], annotator2, xy=(10.0, 11.0))
    submitted(project, frames[2], users["annotator"])  # single-labeled: not counted
    assert AgreementRecord.objects.count() == 2 * len(parts)
    data = as_user("reviewer").get(f"/api/projects/{project.pk}/agreement/").json()
    assert data["n_frames"] == 2
    assert [bp["id"] for bp in data["bodyparts"]] == [bp.pk for bp in parts]
    assert data["bodyparts"][0]["mean_px"] == pytest.approx(3.0)
    assert data["bodyparts"][0]["n_frames"] == 2


def test_rejecting_removes_the_frame_from_agreement(project, frames, as_user, users, annotator2):
    first = submitted(project, frames[0], users["annotator"], xy=(10.0, 10.0))
    submitted(project, frames[0], annotator2, xy=(13.0, 14.0))
    review(as_user("reviewer"), project, first, decision="reject", note="off")
    assert not AgreementRecord.objects.exists()


def test_consensus_keypoints(project, frames, users, annotator2):
    k = project.bodyparts.count()
    first = points_for(project, xy=(10.0, 20.0))
    first[1] = {**first[1], "state": "occluded"}
    second = points_for(project, xy=(20.0, 40.0))
    second[2] = {"bodypart": second[2]["bodypart"], "x": None, "y": None, "state": "absent"}
    submitted(project, frames[0], users["annotator"], points=first)
    submitted(project, frames[0], annotator2, points=second)
    LabelFactory(project=project, frame=frames[1], annotator=users["pi"],
                 status=LabelStatus.REJECTED)
    LabelFactory(project=project, frame=frames[2], annotator=users["pi"],
                 status=LabelStatus.DRAFT)
    absent = points_for(project, xy=None)
    submitted(project, frames[3], users["annotator"], points=absent)
    ids, keypoints, visibility = consensus_keypoints(project)
    assert ids == [frames[0].pk, frames[3].pk]
    assert keypoints.shape == (2, k, 2) and keypoints.dtype == np.float64
    assert visibility.dtype == np.int8
    np.testing.assert_allclose(keypoints[0, 0], [15.0, 30.0])
    np.testing.assert_allclose(keypoints[0, 2], [10.0, 20.0])  # only one annotator placed it
    assert list(visibility[0]) == [2, 2, 2, 2]  # one visible vote ties one occluded: visible
    assert np.isnan(keypoints[1]).all() and not visibility[1].any()
    ids, _, _ = consensus_keypoints(project, frame_ids=[frames[3].pk, frames[1].pk, frames[0].pk])
    assert ids == [frames[3].pk, frames[0].pk]


def test_editing_a_submitted_label_updates_the_agreement(project, frames, users, annotator2):
    first = submitted(project, frames[0], users["annotator"], xy=(10.0, 10.0))
    submitted(project, frames[0], annotator2, xy=(13.0, 14.0))
    distances = AgreementRecord.objects.values_list("mean_distance_px", flat=True)
    assert sorted(distances) == pytest.approx([5.0] * project.bodyparts.count())
    # The annotator goes back and moves the points; an autosave, not a new submit.
    edited = save_label(project, frames[0], users["annotator"],
                        points_for(project, xy=(13.0, 10.0)), base_version=first.version)
    assert edited.status == LabelStatus.SUBMITTED
    distances = AgreementRecord.objects.values_list("mean_distance_px", flat=True)
    assert sorted(distances) == pytest.approx([4.0] * project.bodyparts.count())


def _scored(project, suspects):
    from django.utils import timezone

    from jobs.models import Job, JobKind, JobStatus

    return Job.objects.create(project=project, kind=JobKind.SCORE, status=JobStatus.SUCCEEDED,
                              finished_at=timezone.now(),
                              result={"suspect_label_frame_ids": [f.pk for f in suspects]})


def test_likely_label_errors_are_reviewed_first(project, frames, as_user, users, annotator2):
    older = submitted(project, frames[0], users["annotator"])
    suspect = submitted(project, frames[1], annotator2)
    url = f"/api/projects/{project.pk}/review/next/"
    data = as_user("reviewer").post(url).json()
    assert data["label"]["id"] == older.pk and data["suspect"] is False
    _scored(project, [frames[1]])
    data = as_user("reviewer").post(url).json()
    assert data["label"]["id"] == suspect.pk and data["suspect"] is True


def test_a_suspect_is_offered_until_its_current_version_is_reviewed(project, frames, as_user,
                                                                    users):
    from annotation.models import LabelStatus as Status

    imported = LabelFactory(frame=frames[0], annotator=users["annotator"],
                            status=Status.ACCEPTED)  # accepted without a review (an import)
    reviewed = submitted(project, frames[1], users["annotator"])
    url = f"/api/projects/{project.pk}/review/next/"
    assert review(as_user("reviewer"), project, reviewed, decision="accept").status_code == 200
    assert as_user("reviewer").post(url).status_code == 204  # nothing submitted is left
    _scored(project, [frames[0], frames[1]])  # a scoring run finds both skeletons implausible
    data = as_user("reviewer").post(url).json()
    assert data["label"]["id"] == imported.pk and data["suspect"] is True
    assert review(as_user("reviewer"), project, imported, decision="accept").status_code == 200
    # both versions now carry a reviewer's verdict: settled, not offered again and again
    assert as_user("reviewer").post(url).status_code == 204

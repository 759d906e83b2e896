"""Multi-animal labels: instances saved through the API, matched for agreement, read back."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from rest_framework.test import APIClient

from annotation.agreement import consensus_instances, pairwise_distances
from annotation.instances import instances_of, match_instances
from annotation.models import AgreementRecord, Label, LabelRevision, LabelStatus
from tests.annotation.factories import FrameFactory, points_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair_project(project):
    project.max_animals = 2
    project.save(update_fields=["max_animals"])
    return project


def url(project, frame_id):
    return f"/api/projects/{project.pk}/frames/{frame_id}/label/"


def instance(project, xy, track=""):
    return {"track": track, "points": points_for(project, xy=xy)}


def body(points, version=0, submit=False):
    return {"points": points, "version": version, "seconds_spent": 1.0, "source": "human",
            "request_id": str(uuid.uuid4()), "entry": None, "submit": submit}


def test_two_instances_are_saved_with_their_tracks(pair_project, as_user):
    frame = FrameFactory(project=pair_project)
    points = [instance(pair_project, (10, 20), "A"), instance(pair_project, (100, 120), "B")]
    response = as_user("annotator").put(url(pair_project, frame.pk), body(points), format="json")
    assert response.status_code == 200, response.json()
    saved = response.json()["label"]["points"]
    assert [i["track"] for i in saved] == ["A", "B"]
    assert saved[1]["points"][0]["x"] == 100.0
    assert LabelRevision.objects.get().points == saved


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: [instance(p, (1, 1)), instance(p, (2, 2)), instance(p, (3, 3))], "at most 2"),
    (lambda p: [instance(p, (1, 1), "A"), instance(p, (5, 5), "A")], "same track"),
    (lambda p: points_for(p)[:1], "not an object"),
    (lambda p: [{"track": "A", "points": points_for(p, xy=None)}], "no placed point"),
    (lambda p: [{"track": "A", "points": points_for(p)[:-1]}], "Instance 0: Missing"),
    (lambda p: [{"track": "A", "points": points_for(p), "extra": 1}], "unknown keys"),
    (lambda p: [{"track": 7, "points": points_for(p)}], "track must be a name"),
])
def test_bad_instances_are_refused_and_nothing_changes(pair_project, as_user, make, message):
    frame = FrameFactory(project=pair_project)
    response = as_user("annotator").put(url(pair_project, frame.pk), body(make(pair_project)),
                                        format="json")
    assert response.status_code == 400
    assert message in str(response.json()), response.json()
    assert Label.objects.count() == 0 and LabelRevision.objects.count() == 0


def test_named_individuals_restrict_tracks(pair_project, as_user):
    pair_project.individuals = ["left", "right"]
    pair_project.save(update_fields=["individuals"])
    frame = FrameFactory(project=pair_project)
    client = as_user("annotator")
    bad = client.put(url(pair_project, frame.pk), body([instance(pair_project, (1, 1), "B")]),
                     format="json")
    assert bad.status_code == 400 and "not one of this project's individuals" in str(bad.json())
    good = client.put(url(pair_project, frame.pk),
                      body([instance(pair_project, (1, 1), "right")]), format="json")
    assert good.status_code == 200


def test_a_frame_without_animals_is_an_empty_list(pair_project, as_user):
    frame = FrameFactory(project=pair_project)
    response = as_user("annotator").put(url(pair_project, frame.pk), body([]), format="json")
    assert response.status_code == 200 and response.json()["label"]["points"] == []


def test_single_animal_projects_still_refuse_instances(project, as_user):
    frame = FrameFactory(project=project)
    response = as_user("annotator").put(
        url(project, frame.pk), body([instance(project, (1, 1), "A")]), format="json")
    assert response.status_code == 400


def test_matching_pairs_instances_listed_in_another_order(pair_project):
    a = [instance(pair_project, (10, 10)), instance(pair_project, (200, 200))]
    b = [instance(pair_project, (201, 199)), instance(pair_project, (12, 10))]
    assert sorted(match_instances(a, b)) == [(0, 1), (1, 0)]


def test_agreement_compares_matched_animals(pair_project):
    a = [instance(pair_project, (10, 10)), instance(pair_project, (200, 200))]
    b = [instance(pair_project, (203, 204)), instance(pair_project, (10, 12))]
    distances = pairwise_distances([a, b])
    part = pair_project.bodyparts.order_by("order").first().pk
    mean, n = distances[part]
    # Matched: (10,10)-(10,12) = 2 px and (200,200)-(203,204) = 5 px; unmatched order would
    # have given ~270 px.
    assert n == 2 and mean == pytest.approx(3.5)


def test_agreement_is_stored_when_two_annotators_submit(pair_project, as_user, annotator2):
    frame = FrameFactory(project=pair_project)
    first = [instance(pair_project, (10, 10)), instance(pair_project, (200, 200))]
    second = [instance(pair_project, (200, 203)), instance(pair_project, (10, 10))]
    second_client = APIClient()
    second_client.force_authenticate(annotator2)
    for client, points in ((as_user("annotator"), first), (second_client, second)):
        response = client.put(url(pair_project, frame.pk), body(points, submit=True),
                                    format="json")
        assert response.status_code == 200, response.json()
    records = AgreementRecord.objects.filter(frame=frame)
    assert records.exists()
    assert max(r.mean_distance_px for r in records) == pytest.approx(1.5)


def test_consensus_instances_prefers_the_accepted_label(pair_project, users):
    frame = FrameFactory(project=pair_project)
    older = [instance(pair_project, (10, 10), "A")]
    newer = [instance(pair_project, (50, 50), "A"), instance(pair_project, (90, 90), "B")]
    Label.objects.create(project=pair_project, frame=frame, annotator=users["annotator"],
                         points=older, status=LabelStatus.ACCEPTED)
    Label.objects.create(project=pair_project, frame=frame, annotator=users["reviewer"],
                         points=newer, status=LabelStatus.SUBMITTED)
    ids, keypoints, visibility, tracks = consensus_instances(pair_project)
    assert ids == [frame.pk] and tracks == [["A"]]
    assert keypoints.shape == (1, 2, pair_project.bodyparts.count(), 2)
    assert keypoints[0, 0, 0].tolist() == [10.0, 10.0] and np.isnan(keypoints[0, 1]).all()
    assert visibility[0, 0].min() == 2 and visibility[0, 1].max() == 0


def test_instances_of_reads_both_kinds(project):
    points = points_for(project)
    assert instances_of(points) == [{"track": "", "points": points}]
    assert instances_of([]) == []


def test_project_api_sets_animals_and_refuses_switching_with_labels(project, as_user, users):
    client = as_user("pi")
    api = f"/api/projects/{project.pk}/"
    bad = client.patch(api, {"max_animals": 2, "individuals": ["a"]}, format="json")
    assert bad.status_code == 400 and "Name every animal" in str(bad.json())
    ok = client.patch(api, {"max_animals": 2, "individuals": ["a", "b"]}, format="json")
    assert ok.status_code == 200 and ok.json()["individuals"] == ["a", "b"]
    frame = FrameFactory(project=project)
    Label.objects.create(project=project, frame=frame, annotator=users["annotator"], points=[])
    refused = client.patch(api, {"max_animals": 1}, format="json")
    assert refused.status_code == 400 and "cannot switch" in str(refused.json())
    project.refresh_from_db()
    assert project.max_animals == 2

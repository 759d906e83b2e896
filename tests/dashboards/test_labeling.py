"""Labels per day and annotator, time per frame, skip/flag rates, agreement, review outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from annotation.models import (
    EntryStatus,
    LabelSource,
    LabelStatus,
    Review,
    ReviewDecision,
)
from dashboards.labeling import agreement_with_consensus, labeling
from tests.annotation.factories import (
    FrameFactory,
    LabelFactory,
    QueueEntryFactory,
    points_for,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(project):
    return UserFactory(username="alice")


@pytest.fixture
def bob(project):
    return UserFactory(username="bob")


def label(project, annotator, *, seconds=0.0, xy=(10.0, 20.0), frame=None, day=None, **kw):
    return LabelFactory(project=project, frame=frame or FrameFactory(project=project),
                        annotator=annotator, seconds_spent=seconds,
                        points=points_for(project, xy), submitted_at=day, **kw)


def by_name(result):
    return {row["annotator"]: row for row in result["annotators"]}


def test_median_seconds_per_annotator_and_overall(project, alice, bob):
    for s in (10.0, 30.0, 20.0):
        label(project, alice, seconds=s)
    for s in (5.0, 7.0):
        label(project, bob, seconds=s)
    label(project, bob, seconds=0.0)  # no time recorded: left out
    label(project, bob, seconds=500.0, source=LabelSource.IMPORTED)  # imports carry no time
    label(project, bob, seconds=900.0, status=LabelStatus.DRAFT)  # not submitted
    result = labeling(project)
    assert by_name(result)["alice"]["median_seconds"] == 20.0
    assert by_name(result)["bob"]["median_seconds"] == 6.0
    assert result["median_seconds"] == 10.0
    assert by_name(result)["bob"]["n_labels"] == 4  # submitted ones, draft excluded
    assert result["n_labels"] == 7


def test_agreement_is_each_annotators_distance_to_the_consensus(project, alice, bob):
    frame = FrameFactory(project=project)
    label(project, alice, frame=frame, xy=(10.0, 20.0))
    label(project, bob, frame=frame, xy=(14.0, 23.0))  # 5 px apart: 2.5 px each from the mean
    label(project, alice, xy=(99.0, 99.0))  # labeled once only: no agreement
    result = agreement_with_consensus(project)
    assert result[alice.pk] == (pytest.approx(2.5), 1)
    assert result[bob.pk] == (pytest.approx(2.5), 1)
    rows = by_name(labeling(project))
    assert rows["alice"]["agreement_px"] == pytest.approx(2.5)
    assert rows["alice"]["agreement_frames"] == 1


def test_the_odd_one_out_is_furthest_from_the_consensus(project, alice, bob):
    carol = UserFactory(username="carol")
    frame = FrameFactory(project=project)
    label(project, alice, frame=frame, xy=(0.0, 0.0))
    label(project, bob, frame=frame, xy=(0.0, 0.0))
    label(project, carol, frame=frame, xy=(9.0, 0.0))  # consensus at x=3
    result = agreement_with_consensus(project)
    assert result[alice.pk][0] == pytest.approx(3.0)
    assert result[carol.pk][0] == pytest.approx(6.0)


def test_labels_per_day_and_annotator(project, alice, bob):
    monday = datetime(2025, 3, 3, 10, tzinfo=UTC)
    tuesday = datetime(2025, 3, 4, 15, tzinfo=UTC)
    label(project, alice, day=monday)
    label(project, alice, day=monday)
    label(project, bob, day=monday)
    label(project, alice, day=tuesday)
    per_day = labeling(project)["per_day"]
    assert [(str(r["day"]), r["annotator"], r["n"]) for r in per_day] == [
        ("2025-03-03", "alice", 2), ("2025-03-03", "bob", 1), ("2025-03-04", "alice", 1)]


def test_skip_and_flag_rates(project, alice, bob):
    for status in (EntryStatus.DONE, EntryStatus.DONE, EntryStatus.SKIPPED, EntryStatus.FLAGGED):
        QueueEntryFactory(frame=FrameFactory(project=project), leased_to=alice, status=status)
    QueueEntryFactory(frame=FrameFactory(project=project), leased_to=bob,
                      status=EntryStatus.DONE)
    QueueEntryFactory(frame=FrameFactory(project=project))  # still open: not counted
    result = labeling(project)
    assert by_name(result)["alice"]["skip_rate"] == 0.25
    assert by_name(result)["alice"]["flag_rate"] == 0.25
    assert by_name(result)["bob"]["skip_rate"] == 0.0
    assert result["skip_rate"] == pytest.approx(1 / 5)
    assert result["flag_rate"] == pytest.approx(1 / 5)


def test_review_outcomes(project, alice, bob):
    reviewer = UserFactory()
    decisions = [(alice, ReviewDecision.ACCEPT), (alice, ReviewDecision.ACCEPT),
                 (alice, ReviewDecision.REJECT), (bob, ReviewDecision.CORRECT)]
    for annotator, decision in decisions:
        reviewed = label(project, annotator, status=LabelStatus.ACCEPTED)
        Review.objects.create(label=reviewed, label_version=1, reviewer=reviewer,
                              decision=decision)
    label(project, bob)  # submitted, not reviewed yet
    result = labeling(project)
    assert result["reviews"] == {"accept": 2, "correct": 1, "reject": 1, "awaiting_review": 1}
    assert (by_name(result)["alice"]["accepted"], by_name(result)["alice"]["rejected"]) == (2, 1)
    assert by_name(result)["bob"]["corrected"] == 1


def test_empty_project_has_no_rates(project):
    result = labeling(project)
    assert result["annotators"] == [] and result["per_day"] == []
    assert result["median_seconds"] is None and result["skip_rate"] is None

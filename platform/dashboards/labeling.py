"""Read-only numbers about the people: labels per day and annotator, time, skips, agreement."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import date
from typing import TypedDict

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.db.models.functions import TruncDate

from annotation.models import (
    COUNTED_STATUSES,
    EntryStatus,
    Label,
    LabelSource,
    LabelStatus,
    PointState,
    QueueEntry,
    Review,
    ReviewDecision,
)
from projects.models import Project

FINISHED = (EntryStatus.DONE, EntryStatus.SKIPPED, EntryStatus.FLAGGED)
# Labels whose seconds_spent measure someone labeling (imports carry no time).
TIMED_SOURCES = (LabelSource.HUMAN, LabelSource.CORRECTED_PREDICTION)


class DayCount(TypedDict):
    day: date
    annotator: str
    n: int


class AnnotatorStats(TypedDict):
    annotator: str
    n_labels: int
    median_seconds: float | None
    n_finished: int
    skip_rate: float | None
    flag_rate: float | None
    agreement_px: float | None
    agreement_frames: int
    accepted: int
    corrected: int
    rejected: int


class ReviewOutcomes(TypedDict):
    accept: int
    correct: int
    reject: int
    awaiting_review: int


class Labeling(TypedDict):
    per_day: list[DayCount]
    annotators: list[AnnotatorStats]
    median_seconds: float | None
    n_labels: int
    skip_rate: float | None
    flag_rate: float | None
    reviews: ReviewOutcomes


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def labels_per_day(project: Project) -> list[DayCount]:
    """Submitted/accepted labels per day (of submission) and annotator."""
    rows = (Label.objects.filter(project=project, status__in=COUNTED_STATUSES,
                                 submitted_at__isnull=False)
            .annotate(day=TruncDate("submitted_at")).values("day", "annotator__username")
            .annotate(n=Count("id")).order_by("day", "annotator__username"))
    return [{"day": r["day"], "annotator": r["annotator__username"], "n": r["n"]} for r in rows]


def _placed(points: list) -> dict[int, tuple[float, float]]:
    return {p["bodypart"]: (float(p["x"]), float(p["y"])) for p in points
            if p.get("state") != PointState.ABSENT and p.get("x") is not None
            and p.get("y") is not None}


def agreement_with_consensus(project: Project) -> dict[int, tuple[float, int]]:
    """Annotator id → (mean px distance of their points to the consensus, frames compared).

    Only frames with two or more submitted/accepted labels count. The consensus of a body part
    is the mean of every annotator's placement of it, as in `annotation.agreement`.
    """
    by_frame: dict[int, list[tuple[int, dict[int, tuple[float, float]]]]] = defaultdict(list)
    labels = Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
    for frame_id, annotator_id, points in labels.values_list("frame_id", "annotator_id",
                                                             "points"):
        by_frame[frame_id].append((annotator_id, _placed(points)))
    dists: dict[int, list[float]] = defaultdict(list)
    frames: Counter[int] = Counter()
    for rows in by_frame.values():
        if len(rows) < 2:
            continue
        consensus: dict[int, tuple[float, float]] = {}
        for part in {part for _, placed in rows for part in placed}:
            xy = [placed[part] for _, placed in rows if part in placed]
            consensus[part] = (sum(x for x, _ in xy) / len(xy), sum(y for _, y in xy) / len(xy))
        for annotator_id, placed in rows:
            mine = [math.dist(xy, consensus[part]) for part, xy in placed.items()]
            if mine:
                dists[annotator_id].extend(mine)
                frames[annotator_id] += 1
    return {a: (sum(d) / len(d), frames[a]) for a, d in dists.items()}


def _review_counts(project: Project) -> tuple[dict[str, int], dict[tuple[int, str], int]]:
    reviews = Review.objects.filter(label__project=project)
    total = dict(reviews.values_list("decision").annotate(n=Count("id")).order_by())
    per = {(a, d): n for a, d, n in reviews.values_list("label__annotator_id", "decision")
           .annotate(n=Count("id")).order_by()}
    return total, per


def annotator_stats(project: Project) -> list[AnnotatorStats]:
    """One row per person who labeled or held queue entries in the project, by name."""
    labels = Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
    counts = dict(labels.values_list("annotator_id").annotate(n=Count("id")).order_by())
    seconds: dict[int, list[float]] = defaultdict(list)
    for annotator_id, s in labels.filter(source__in=TIMED_SOURCES, seconds_spent__gt=0) \
            .values_list("annotator_id", "seconds_spent"):
        seconds[annotator_id].append(s)
    finished: dict[int, Counter[str]] = defaultdict(Counter)
    for user_id, status, n in (QueueEntry.objects.filter(project=project, status__in=FINISHED,
                                                         leased_to__isnull=False)
                               .values_list("leased_to_id", "status").annotate(n=Count("id"))
                               .order_by()):
        finished[user_id][status] = n
    agreement = agreement_with_consensus(project)
    _, reviews = _review_counts(project)
    ids = set(counts) | set(finished)
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    rows: list[AnnotatorStats] = []
    for user_id in sorted(ids, key=lambda i: names.get(i, "")):
        done = sum(finished[user_id].values())
        agree = agreement.get(user_id)
        rows.append({
            "annotator": names.get(user_id, f"user {user_id}"),
            "n_labels": counts.get(user_id, 0),
            "median_seconds": statistics.median(seconds[user_id]) if seconds[user_id] else None,
            "n_finished": done,
            "skip_rate": _rate(finished[user_id][EntryStatus.SKIPPED], done),
            "flag_rate": _rate(finished[user_id][EntryStatus.FLAGGED], done),
            "agreement_px": agree[0] if agree else None,
            "agreement_frames": agree[1] if agree else 0,
            "accepted": reviews.get((user_id, ReviewDecision.ACCEPT), 0),
            "corrected": reviews.get((user_id, ReviewDecision.CORRECT), 0),
            "rejected": reviews.get((user_id, ReviewDecision.REJECT), 0),
        })
    return rows


def labeling(project: Project) -> Labeling:
    """Everything the labeling panels of the dashboard show."""
    labels = Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
    timed = list(labels.filter(source__in=TIMED_SOURCES, seconds_spent__gt=0)
                 .values_list("seconds_spent", flat=True))
    finished = Counter(dict(QueueEntry.objects.filter(project=project, status__in=FINISHED)
                            .values_list("status").annotate(n=Count("id")).order_by()))
    n_finished = sum(finished.values())
    totals, _ = _review_counts(project)
    return {
        "per_day": labels_per_day(project),
        "annotators": annotator_stats(project),
        "median_seconds": statistics.median(timed) if timed else None,
        "n_labels": labels.count(),
        "skip_rate": _rate(finished[EntryStatus.SKIPPED], n_finished),
        "flag_rate": _rate(finished[EntryStatus.FLAGGED], n_finished),
        "reviews": {
            "accept": totals.get(ReviewDecision.ACCEPT, 0),
            "correct": totals.get(ReviewDecision.CORRECT, 0),
            "reject": totals.get(ReviewDecision.REJECT, 0),
            "awaiting_review": labels.filter(status=LabelStatus.SUBMITTED).count(),
        },
    }

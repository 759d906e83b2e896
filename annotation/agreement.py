"""Agreement between annotators, and the consensus keypoints the learning app trains on."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from django.db import transaction
from django.db.models import Avg, Count

from annotation.instances import instances_of, match_instances, placed
from annotation.models import (
    COUNTED_STATUSES,
    AgreementRecord,
    Label,
    LabelStatus,
    Point,
    PointState,
)
from projects.models import Project
from videos.models import Frame


class BodyPartAgreement(TypedDict):
    id: int
    name: str
    mean_px: float | None
    n_frames: int


class ProjectAgreement(TypedDict):
    n_frames: int
    bodyparts: list[BodyPartAgreement]


def _matched_pairs(a: list, b: list) -> list[tuple[dict, dict]]:
    """Placed points of the instances of two labels that correspond (one pair per animal).

    Single-animal labels are one instance each; multi-animal labels are matched first
    (Hungarian on keypoint distance), so annotators who listed the animals in another order
    still agree.
    """
    ia, ib = instances_of(a), instances_of(b)
    return [(placed(ia[i]["points"]), placed(ib[j]["points"]))
            for i, j in match_instances(ia, ib)]


def pairwise_distances(labels: Sequence[list]) -> dict[int, tuple[float, int]]:
    """Body part id → (mean pixel distance over annotator pairs that both placed it, n pairs).

    In a multi-animal project a pair is two annotators' points of one matched animal.
    """
    dists: dict[int, list[float]] = {}
    for a, b in itertools.combinations(labels, 2):
        for pa, pb in _matched_pairs(a, b):
            for part in pa.keys() & pb.keys():
                dists.setdefault(part, []).append(math.dist(pa[part], pb[part]))
    return {part: (sum(d) / len(d), len(d)) for part, d in dists.items()}


def lock_counted_points(frame_id: int) -> list[list[Point]]:
    """Lock the frame row, then read the points of its submitted/accepted labels.

    The lock (SELECT … FOR UPDATE) makes saves of labels of one frame take turns, each reading
    after the lock the labels committed before it, so the last one always sees them all. Call
    inside a transaction.
    """
    Frame.objects.select_for_update().filter(pk=frame_id).values_list("pk").get()
    return list(Label.objects.filter(frame_id=frame_id, status__in=COUNTED_STATUSES)
                .order_by().values_list("points", flat=True))


def store_frame_agreement(project_id: int, frame_id: int, labels: Sequence[list[Point]]
                          ) -> None:
    """Replace the frame's agreement records by those of `labels` (none below 2 labels).

    Call with the frame locked (lock_counted_points).
    """
    AgreementRecord.objects.filter(frame_id=frame_id).delete()
    if len(labels) < 2:
        return
    AgreementRecord.objects.bulk_create(
        AgreementRecord(project_id=project_id, frame_id=frame_id, bodypart_id=part,
                        mean_distance_px=mean, n_pairs=n)
        for part, (mean, n) in pairwise_distances(labels).items()
    )


def refresh_frame_agreement(frame_id: int, project_id: int) -> None:
    """Recompute the frame's stored agreement from its submitted/accepted labels (>= 2 needed).

    Locks the frame row (lock_counted_points) so two labels saved at once for the same frame
    recompute one after the other; call inside the saving transaction (no savepoint of its
    own: two round trips fewer on every save).
    """
    with transaction.atomic(savepoint=False):
        store_frame_agreement(project_id, frame_id, lock_counted_points(frame_id))


def project_agreement(project: Project) -> ProjectAgreement:
    """Per body part (in order): mean over double-labeled frames of the annotators' distance."""
    records = AgreementRecord.objects.filter(project=project)
    stats = {row["bodypart_id"]: row for row in records.values("bodypart_id")
             .annotate(mean_px=Avg("mean_distance_px"), n_frames=Count("frame_id"))}
    parts = project.bodyparts.order_by("order", "id")
    return {
        "n_frames": records.values("frame_id").distinct().count(),
        "bodyparts": [
            {"id": bp.pk, "name": bp.name,
             "mean_px": stats[bp.pk]["mean_px"] if bp.pk in stats else None,
             "n_frames": stats[bp.pk]["n_frames"] if bp.pk in stats else 0}
            for bp in parts
        ],
    }


def consensus_keypoints(project: Project, frame_ids: Sequence[int] | None = None
                        ) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Consensus of submitted/accepted labels per frame, in the project's body-part order.

    Returns (frame ids, keypoints (N, K, 2) float64 with NaN where absent, visibility (N, K)
    int8: 0 absent, 1 occluded, 2 visible). The position is the mean over the annotators who
    placed the point; it is visible when at least as many said visible as occluded. Rejected
    and draft labels are left out. Frames are those with at least one such label, in the
    order of `frame_ids` when given, else by id.
    """
    parts = list(project.bodyparts.order_by("order", "id").values_list("pk", flat=True))
    column = {pk: k for k, pk in enumerate(parts)}
    labels = Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
    if frame_ids is not None:
        labels = labels.filter(frame_id__in=list(frame_ids))
    sums: dict[int, np.ndarray] = {}  # frame → (K, 4): sum x, sum y, n visible, n occluded
    for frame_id, points in labels.values_list("frame_id", "points").order_by("frame_id"):
        acc = sums.setdefault(frame_id, np.zeros((len(parts), 4)))
        for p in points:
            k = column.get(p["bodypart"])
            if k is None or p["state"] == PointState.ABSENT or p["x"] is None:
                continue
            acc[k] += (p["x"], p["y"], p["state"] == PointState.VISIBLE,
                       p["state"] == PointState.OCCLUDED)
    order = [f for f in dict.fromkeys(frame_ids) if f in sums] if frame_ids is not None \
        else sorted(sums)
    keypoints = np.full((len(order), len(parts), 2), np.nan, dtype=np.float64)
    visibility = np.zeros((len(order), len(parts)), dtype=np.int8)
    for i, frame_id in enumerate(order):
        acc = sums[frame_id]
        n = acc[:, 2] + acc[:, 3]
        placed = n > 0
        keypoints[i, placed] = acc[placed, :2] / n[placed, None]
        visibility[i, placed] = np.where(acc[placed, 2] >= acc[placed, 3], 2, 1)
    return order, keypoints, visibility


def consensus_instances(project: Project, frame_ids: Sequence[int] | None = None
                        ) -> tuple[list[int], np.ndarray, np.ndarray, list[list[str]]]:
    """The labeled animals of a multi-animal project's frames, in body-part order.

    Two annotators may list the animals in any order and place them slightly apart, so no
    mean is taken: each frame's label is its accepted one if any, else the latest
    submitted. Returns (frame ids, keypoints (N, max_animals, K, 2) float64 with NaN where
    absent or no animal, visibility (N, max_animals, K) int8, tracks per frame (one name or
    "" per instance)). Frames are ordered as `consensus_keypoints` orders them.
    """
    parts = list(project.bodyparts.order_by("order", "id").values_list("pk", flat=True))
    column = {pk: k for k, pk in enumerate(parts)}
    labels = Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
    if frame_ids is not None:
        labels = labels.filter(frame_id__in=list(frame_ids))
    chosen: dict[int, list] = {}
    rows = labels.values_list("frame_id", "points", "status").order_by("frame_id", "updated_at")
    for frame_id, points, status in rows:
        if status == LabelStatus.ACCEPTED or chosen.get(frame_id, (None, ""))[1] != "accepted":
            chosen[frame_id] = (points, status)
    order = [f for f in dict.fromkeys(frame_ids) if f in chosen] if frame_ids is not None \
        else sorted(chosen)
    slots = max(project.max_animals, 1)
    keypoints = np.full((len(order), slots, len(parts), 2), np.nan, dtype=np.float64)
    visibility = np.zeros((len(order), slots, len(parts)), dtype=np.int8)
    tracks: list[list[str]] = []
    for i, frame_id in enumerate(order):
        instances = instances_of(chosen[frame_id][0])[:slots]
        tracks.append([inst["track"] for inst in instances])
        for j, inst in enumerate(instances):
            for p in inst["points"]:
                k = column.get(p["bodypart"])
                if k is None or p["state"] == PointState.ABSENT or p["x"] is None:
                    continue
                keypoints[i, j, k] = (p["x"], p["y"])
                visibility[i, j, k] = 2 if p["state"] == PointState.VISIBLE else 1
    return order, keypoints, visibility, tracks

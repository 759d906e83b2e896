"""Several animals per frame: a label's instances, their validation and matching.

In a multi-animal project (``Project.max_animals > 1``) a label's ``points`` hold a list of
instances, ``{"track": str, "points": list[Point]}``, one per labeled animal; in a
single-animal project they hold the one animal's ``list[Point]`` as before. ``track`` names
the animal: one of the project's individuals when it names them, else any short name (the
labeling page writes the track of the prediction it started from) or "" for none.
Code that reads labels of either kind goes through :func:`instances_of`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
from django.core.exceptions import ValidationError
from scipy.optimize import linear_sum_assignment

from annotation.models import Point, PointState
from annotation.points import validate_points
from projects.models import Project
from videos.models import Frame

MAX_TRACK_LENGTH = 40
# A pair of instances sharing no placed body part cannot be compared: this cost keeps the
# assignment from pairing them while any comparable pairing is left.
NO_OVERLAP_COST = 1e9


class Instance(TypedDict):
    """One animal of a multi-animal label."""

    track: str
    points: list[Point]


def instances_of(points: Sequence[Any]) -> list[Instance]:
    """A label's instances, whichever kind of project it belongs to.

    A single-animal label (a list of points) is one instance without a track; an empty list
    is no instance.
    """
    if not points:
        return []
    first = points[0]
    if isinstance(first, dict) and "points" in first:
        return [Instance(track=str(i.get("track") or ""), points=list(i["points"]))
                for i in points]
    return [Instance(track="", points=list(points))]


def _check_track(project: Project, raw: Any, index: int) -> str:
    track = "" if raw is None else raw
    if not isinstance(track, str) or len(track) > MAX_TRACK_LENGTH:
        raise ValidationError({"points": (
            f"Instance {index}: track must be a name of at most {MAX_TRACK_LENGTH} characters."
        )})
    track = track.strip()
    if project.individuals and track and track not in project.individuals:
        raise ValidationError({"points": (
            f"Instance {index}: {track!r} is not one of this project's individuals "
            f"({', '.join(project.individuals)})."
        )})
    return track


def validate_instances(project: Project, bodypart_ids: list[int], frame: Frame,
                       raw: Any) -> list[Instance]:
    """Checked instances of a multi-animal label, else ValidationError (a 400).

    At most ``project.max_animals`` instances, each with one point per body part (as
    :func:`annotation.points.validate_points` checks them) and at least one placed point;
    track names unique within the frame. An empty list says the frame shows no animal.
    """
    if not isinstance(raw, list):
        raise ValidationError({"points": (
            "A multi-animal label is a list of instances, each {\"track\": name, "
            "\"points\": [one point per body part]}."
        )})
    if len(raw) > project.max_animals:
        raise ValidationError({"points": (
            f"{len(raw)} instances, but this project has at most {project.max_animals} "
            "animals per frame."
        )})
    out: list[Instance] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "points" not in item:
            raise ValidationError({"points": (
                f"Instance {index} is not an object with \"track\" and \"points\"."
            )})
        unknown = sorted(set(item) - {"track", "points"})
        if unknown:
            raise ValidationError({"points": f"Instance {index}: unknown keys {unknown}."})
        track = _check_track(project, item.get("track"), index)
        try:
            points = validate_points(bodypart_ids, frame, item["points"])
        except ValidationError as exc:
            message = "; ".join(exc.message_dict.get("points", exc.messages))
            raise ValidationError({"points": f"Instance {index}: {message}"}) from None
        if all(p["state"] == PointState.ABSENT for p in points):
            raise ValidationError({"points": (
                f"Instance {index} has no placed point: delete the instance instead."
            )})
        out.append(Instance(track=track, points=points))
    tracks = [i["track"] for i in out if i["track"]]
    if len(set(tracks)) != len(tracks):
        raise ValidationError({"points": "Two instances of one frame have the same track."})
    return out


def placed(points: Sequence[Point]) -> dict[int, tuple[float, float]]:
    """Body part id → (x, y) of the points that are placed (visible or occluded)."""
    return {p["bodypart"]: (float(p["x"]), float(p["y"]))  # type: ignore[arg-type]
            for p in points if p["state"] != PointState.ABSENT and p["x"] is not None}


def instance_distance(a: Sequence[Point], b: Sequence[Point]) -> float:
    """Mean pixel distance over the body parts both instances placed (inf if none)."""
    pa, pb = placed(a), placed(b)
    shared = pa.keys() & pb.keys()
    if not shared:
        return math.inf
    return sum(math.dist(pa[k], pb[k]) for k in shared) / len(shared)


def match_instances(a: Sequence[Instance], b: Sequence[Instance]) -> list[tuple[int, int]]:
    """Pairs (index in a, index in b) that minimise the summed instance distance (Hungarian).

    Instances that share no placed body part are never paired; with unequal counts the
    extra instances stay unmatched.
    """
    if not a or not b:
        return []
    cost = np.array([[instance_distance(x["points"], y["points"]) for y in b] for x in a])
    finite = np.isfinite(cost)
    rows, cols = linear_sum_assignment(np.where(finite, cost, NO_OVERLAP_COST))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if finite[r, c]]

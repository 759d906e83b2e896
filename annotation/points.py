"""Validating label points against a project's body parts and a frame's size."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError

from annotation.models import Point, PointState
from videos.models import Frame


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_point(raw: Any, index: int, frame: Frame) -> Point:
    if not isinstance(raw, dict):
        raise ValidationError({"points": f"Point {index} is not an object."})
    state, x, y = raw.get("state"), raw.get("x"), raw.get("y")
    if state not in PointState.values:
        raise ValidationError({"points": (
            f"Point {index}: unknown state {state!r} (use visible, occluded or absent)."
        )})
    if state == PointState.ABSENT:
        if x is not None or y is not None:
            raise ValidationError({"points": f"Point {index}: an absent point has null x and y."})
        return Point(bodypart=raw["bodypart"], x=None, y=None, state=state)
    if not (_number(x) and _number(y)):
        raise ValidationError({"points": (
            f"Point {index}: x and y must be finite numbers for a {state} point."
        )})
    if not (0 <= x <= frame.width and 0 <= y <= frame.height):
        raise ValidationError({"points": (
            f"Point {index}: ({x}, {y}) lies outside the {frame.width}x{frame.height} image."
        )})
    return Point(bodypart=raw["bodypart"], x=float(x), y=float(y), state=state)


def validate_points(bodypart_ids: list[int], frame: Frame, raw_points: Any) -> list[Point]:
    """One point per body part (any order), returned in body-part order; else ValidationError.

    `bodypart_ids` are the project's body parts in their order. Visible and occluded points
    need finite x in [0, width] and y in [0, height]; absent points have null x and y.
    """
    if not isinstance(raw_points, list):
        raise ValidationError({"points": "A list of points, one per body part."})
    known = set(bodypart_ids)
    by_part: dict[int, Point] = {}
    for index, raw in enumerate(raw_points):
        part = raw.get("bodypart") if isinstance(raw, dict) else None
        if not isinstance(part, int) or isinstance(part, bool) or part not in known:
            raise ValidationError({"points": (
                f"Point {index}: {part!r} is not a body part of this project."
            )})
        if part in by_part:
            raise ValidationError({"points": f"Body part {part} appears twice."})
        by_part[part] = _check_point(raw, index, frame)
    missing = [pk for pk in bodypart_ids if pk not in by_part]
    if missing:
        raise ValidationError({"points": f"Missing body part(s): {missing}."})
    return [by_part[pk] for pk in bodypart_ids]

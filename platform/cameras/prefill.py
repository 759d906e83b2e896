"""Label twice, get the rest: suggestions for a view's frame from the other views' labels.

A frame of a video that is a view of a session (frame index i, view offset o) shows session
frame t = i - o. Where two or more other views of that session have a labeled frame at t
(their video frame t + their offset) and the rig has a ready calibration, each body part
labeled (visible or occluded) in two or more of them is triangulated
(`learning.geometry.triangulate.fill_missing_views`: robust with three or more views) and
reprojected into this frame's camera. The labeling page shows these points as suggestions
"from other views", in place of the model's prediction for the body parts they cover.

Which label of another view's frame counts: its newest accepted or submitted label, else its
newest draft (rejected labels never).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from annotation.models import COUNTED_STATUSES, Label, LabelStatus, PointState
from cameras.models import SessionView
from cameras.rigs import calibration_cameras
from learning.geometry.triangulate import fill_missing_views
from videos.models import Frame


class PrefillPoint(TypedDict):
    bodypart: int
    name: str
    x: float
    y: float
    views: int  # how many other views labeled this body part


@dataclass
class Prefill:
    """The reprojected points for one frame (empty when fewer than two views are labeled)."""

    session: int | None = None
    session_frame: int | None = None
    camera: str = ""
    views: list[str] = field(default_factory=list)  # other cameras whose labels were used
    points: list[PrefillPoint] = field(default_factory=list)


def _best_label(frame_ids: list[int]) -> dict[int, Label]:
    """frame id → the label that counts for it (see the module docstring)."""
    out: dict[int, Label] = {}
    labels = (Label.objects.filter(frame_id__in=frame_ids)
              .exclude(status=LabelStatus.REJECTED).order_by("-updated_at", "-id"))
    for label in labels:
        held = out.get(label.frame_id)
        if held is None or (label.status in COUNTED_STATUSES
                            and held.status not in COUNTED_STATUSES):
            out[label.frame_id] = label
    return out


def _label_points(label: Label, index: dict[int, int], n_parts: int) -> np.ndarray:
    """(K, 2) label positions in body-part order, NaN where not placed or absent."""
    pts = np.full((n_parts, 2), np.nan)
    for point in label.points or []:
        k = index.get(point.get("bodypart"))
        if (k is None or point.get("state") == PointState.ABSENT or point.get("x") is None
                or point.get("y") is None):
            continue
        pts[k] = (float(point["x"]), float(point["y"]))
    return pts


def reprojection_prefill(frame: Frame) -> Prefill:
    """Suggestions for `frame` from the labels of the other views of its session moment."""
    if frame.video_id is None or frame.frame_index is None:
        return Prefill()
    parts = list(frame.project.bodyparts.order_by("order", "id").values_list("id", "name"))
    index = {pk: k for k, (pk, _) in enumerate(parts)}
    views = (SessionView.objects.filter(video_id=frame.video_id, session__project=frame.project)
             .select_related("session__rig").order_by("id"))
    for view in views:
        t = frame.frame_index - view.offset
        if not 0 <= t < view.session.frame_count:
            continue
        result = _session_prefill(frame, view, t, parts, index)
        if result.points:
            return result
    return Prefill()


def _session_prefill(frame: Frame, view: SessionView, t: int, parts: list[tuple[int, str]],
                     index: dict[int, int]) -> Prefill:
    session = view.session
    empty = Prefill(session=session.pk, session_frame=t, camera=view.camera)
    calibration = session.rig.current_calibration()
    if calibration is None:
        return empty
    cameras = {c.name: c for c in calibration_cameras(calibration)}
    if view.camera not in cameras:
        return empty
    others = [v for v in session.views.all() if v.pk != view.pk and v.camera in cameras]
    frames = {(f.video_id, f.frame_index): f.pk for f in Frame.objects.filter(
        project=frame.project, video_id__in=[v.video_id for v in others],
        frame_index__in={t + v.offset for v in others})}
    wanted = {v.camera: frames.get((v.video_id, t + v.offset)) for v in others}
    labels = _best_label([f for f in wanted.values() if f is not None])
    labeled = {cam: labels[f] for cam, f in wanted.items() if f in labels}
    if len(labeled) < 2:
        return empty
    names = [view.camera, *labeled]
    pts = np.full((len(names), 1, len(parts), 2), np.nan)
    for c, cam in enumerate(names[1:], start=1):
        pts[c, 0] = _label_points(labeled[cam], index, len(parts))
    seen = np.isfinite(pts[1:, 0, :, 0]).sum(axis=0)
    filled = fill_missing_views([cameras[n] for n in names], pts)[0, 0]
    width, height = frame.width or np.inf, frame.height or np.inf
    points: list[PrefillPoint] = []
    for k, (part_id, name) in enumerate(parts):
        x, y = filled[k]
        if seen[k] >= 2 and np.isfinite([x, y]).all() and 0 <= x < width and 0 <= y < height:
            points.append(PrefillPoint(bodypart=part_id, name=name, x=round(float(x), 2),
                                       y=round(float(y), 2), views=int(seen[k])))
    empty.views = list(labeled)
    empty.points = points
    return empty

"""Label twice, get the rest: reprojection of two labeled views into the third on the
synthetic rig, and who may read it."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import Label, LabelStatus
from cameras.prefill import reprojection_prefill
from learning.geometry import synthetic
from videos.models import Frame, FrameOrigin

pytestmark = pytest.mark.django_db

T = 11  # the session frame labeled


def _frame(project, video, index):
    return Frame.objects.create(project=project, video=video, frame_index=index, width=1280,
                                height=1024, origin=FrameOrigin.SELECTED, image="x.png")


def _label(frame, user, pts, parts, status=LabelStatus.SUBMITTED):
    points = [{"bodypart": pk, "x": float(x), "y": float(y), "state": "visible"}
              for pk, (x, y) in zip(parts, pts, strict=False)]
    return Label.objects.create(project=frame.project, frame=frame, annotator=user,
                                points=points, status=status)


@pytest.fixture
def views(project, calibrated, session, rig_cameras, truth, users):
    """camera name → (Frame at session frame T, its true 2D points (K, 2))."""
    pts = synthetic.render_points(rig_cameras, truth)
    by_camera = {v.camera: v for v in session.views.all()}
    out = {}
    for c, cam in enumerate(rig_cameras):
        view = by_camera[cam.name]
        out[cam.name] = (_frame(project, view.video, T + view.offset), pts[c, T])
    return out


def _parts(project):
    return list(project.bodyparts.order_by("order", "id").values_list("id", flat=True))


def test_two_labeled_views_give_the_third_within_a_fraction_of_a_pixel(project, views, users):
    parts = _parts(project)
    (a, pa), (b, pb), (c, pc) = views.values()
    _label(a, users["annotator"], pa, parts)
    _label(b, users["pi"], pb, parts[:3], status=LabelStatus.DRAFT)  # three parts only
    result = reprojection_prefill(c)
    assert result.camera == list(views)[2] and result.session_frame == T
    assert sorted(result.views) == sorted(list(views)[:2])
    assert [p["bodypart"] for p in result.points] == parts[:3]
    got = np.array([[p["x"], p["y"]] for p in result.points])
    assert np.abs(got - pc[:3]).max() < 0.1
    assert all(p["views"] == 2 for p in result.points)


def test_fewer_than_two_labeled_views_suggest_nothing(project, views, users):
    parts = _parts(project)
    (a, pa), (b, pb), (c, _) = views.values()
    _label(a, users["annotator"], pa, parts)
    _label(b, users["pi"], pb, parts, status=LabelStatus.REJECTED)  # rejected: not counted
    assert reprojection_prefill(c).points == []
    other_moment = _frame(project, c.video, T + 1)
    assert reprojection_prefill(other_moment).points == []


def test_frames_outside_sessions_get_nothing(project, views, users):
    lone = Frame.objects.create(project=project, width=64, height=64,
                                origin=FrameOrigin.SELECTED, image="y.png")
    assert reprojection_prefill(lone).points == []


def test_api_members_read_the_prefill_and_outsiders_do_not(project, views, users, as_user):
    parts = _parts(project)
    (a, pa), (b, pb), (c, pc) = views.values()
    _label(a, users["annotator"], pa, parts)
    _label(b, users["reviewer"], pb, parts)
    url = f"/api/projects/{project.pk}/frames/{c.pk}/reprojection/"
    for role in ("annotator", "reviewer", "pi"):
        response = as_user(role).get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["points"]) == len(parts)
        assert abs(body["points"][0]["x"] - pc[0, 0]) < 0.1
    for role in ("outsider", "other_pi", None):
        assert as_user(role).get(url).status_code in (401, 403, 404)
    assert as_user("annotator").get(
        f"/api/projects/{project.pk}/frames/999999/reprojection/").status_code == 404

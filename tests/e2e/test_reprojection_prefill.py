"""Label twice, get the rest, in Chromium: a view of a three-camera session whose other two
views are labeled shows the reprojected points as suggestions "from other views" (preferred to
the model's), and `a` accepts them."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from annotation.models import Label, LabelStatus
from annotation.queue import enqueue_frames
from cameras import rigs, sessions
from learning.geometry import synthetic
from learning.geometry.calibration_toml import save_calibration_toml
from tests.cameras.conftest import BOARD_TOML
from tests.e2e.conftest import frame_png
from tests.e2e.test_labeling import (
    api_label,
    fake_model,
    label_url,
    near,
    part_state,
    wait_labeling,
    wait_saved,
)
from tests.factories import MembershipFactory, ProjectFactory
from tests.videofactory import make_video
from videos.ingest import add_video
from videos.models import Frame, FrameOrigin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T = 4
W, H = 1280, 1024


def _session_with_two_labeled_views(tmp_path):
    project = ProjectFactory(name="E2E 3D")
    annotator = MembershipFactory(project=project, role=Role.ANNOTATOR).user
    other = MembershipFactory(project=project, role=Role.ANNOTATOR).user
    cams = synthetic.ring_rig(3, seed=3)
    truth = synthetic.walking_animal(8, seed=1)
    pts = synthetic.render_points(cams, truth)[:, T, :4]  # the project's four body parts
    rig = rigs.create_rig(project, "ring", [c.name for c in cams], BOARD_TOML)
    toml = save_calibration_toml(cams, tmp_path / "calibration.toml")
    rigs.import_calibration(rig, SimpleUploadedFile("calibration.toml", toml.read_bytes()), None)
    videos = {c.name: add_video(project, make_video(tmp_path, f"{c.name}.mp4", n_frames=8,
                                                    seed=i).path, name=f"{c.name}.mp4",
                                register=True) for i, c in enumerate(cams)}
    sessions.create_session(project, rig, "day1", {c: v.pk for c, v in videos.items()})
    parts = list(project.bodyparts.order_by("order", "id").values_list("id", flat=True))
    frames = []
    for c, cam in enumerate(cams):
        frame = Frame(project=project, video=videos[cam.name], frame_index=T, width=W, height=H,
                      origin=FrameOrigin.SELECTED)
        frame.image.save(f"e2e3d_{c}.png", ContentFile(frame_png(c, W, H)), save=False)
        frame.save()
        frames.append(frame)
    for c, n_parts in ((0, 4), (1, 3)):  # the second view lacks the tail base
        Label.objects.create(project=project, frame=frames[c], annotator=other,
                             status=LabelStatus.SUBMITTED,
                             points=[{"bodypart": parts[k], "x": float(pts[c, k, 0]),
                                      "y": float(pts[c, k, 1]), "state": "visible"}
                                     for k in range(n_parts)])
    enqueue_frames(project.pk, [frames[2].pk], reason="views_3d",
                   components={frames[2].pk: {"camera": cams[2].name, "view_error_px": 21.5}})
    return project, annotator, frames[2], pts[2]


def test_reprojected_points_are_suggested_and_accepted_with_a(open_tab, live_server, tmp_path):
    project, annotator, frame, expected = _session_with_two_labeled_views(tmp_path)
    tab = open_tab(annotator, "/")
    page = tab.page
    fake_model(page, project)  # the model suggests points too, far from the reprojection
    page.goto(f"{live_server.url}{label_url(project)}")
    assert wait_labeling(page) == frame.pk
    page.wait_for_selector("#suggestions[data-from-views='3']:not([hidden])")
    assert "from other views (cam0, cam1)" in page.inner_text("#suggestion-info")
    assert page.inner_text("#parts li[data-index='0'] .from-views") == "3D"
    assert not page.locator("#parts li[data-index='3'] .from-views").count()  # model's
    assert "camera cam2" in page.get_attribute("#frame-info .reason", "title")

    page.keyboard.press("a")
    assert [part_state(page, i) for i in range(4)] == ["visible"] * 4
    wait_saved(page)
    saved = api_label(page, live_server, project, frame.pk)
    assert saved["source"] == "corrected_prediction"
    for k in range(3):
        assert near(saved["points"][k], tuple(np.round(expected[k], 2)), tolerance=0.05)
    assert not near(saved["points"][3], tuple(expected[3]), tolerance=5.0)  # the model's
    tab.assert_no_console_errors()

"""The review page in Chromium: reject with a note, correct by dragging, accept, empty state."""

from __future__ import annotations

import pytest

from annotation.labels import save_label
from annotation.models import Label
from tests.e2e.conftest import SCREENSHOTS, TRUE_POINTS
from tests.e2e.test_labeling import fake_model, screen_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submitted(lab, frame, user, shift: float = 0.0) -> Label:
    points = [{"bodypart": bp.pk, "x": TRUE_POINTS[bp.name][0] + shift,
               "y": TRUE_POINTS[bp.name][1], "state": "visible"}
              for bp in lab.project.bodyparts.all()]
    return save_label(lab.project, frame, user, points, base_version=0, submit=True)


def test_review_reject_then_correct(lab, open_tab, live_server):
    first = submitted(lab, lab.frames[0], lab.annotator, shift=9.0)
    second = submitted(lab, lab.frames[1], lab.annotator)
    third = submitted(lab, lab.frames[1], lab.annotator2, shift=3.0)  # a second opinion
    tab = open_tab(lab.reviewer, "/")
    page = tab.page
    fake_model(page, lab.project)
    page.goto(f"{live_server.url}/projects/{lab.project.pk}/review/")
    page.wait_for_selector(f"#review-app[data-state=reviewing][data-label-id='{first.pk}']")
    page.evaluate("window.__sameDocument = true")

    page.keyboard.press("r")
    page.wait_for_selector("#reason-dialog[open]")
    page.keyboard.press("2")  # "Left and right swapped"
    page.wait_for_selector(f"#review-app[data-state=reviewing][data-label-id='{second.pk}']")
    first.refresh_from_db()
    assert first.status == "rejected"

    page.wait_for_selector("#others-state:has-text('(1)')")
    frame = lab.frames[1]
    snout = TRUE_POINTS["snout"]
    page.mouse.move(*screen_of(page, frame, *snout))
    page.mouse.down()
    page.mouse.move(*screen_of(page, frame, snout[0] - 5, snout[1] + 4), steps=5)
    page.mouse.up()
    page.wait_for_selector("#save-state[data-kind=dirty]")
    # The keyboard rules shared with the labeling page (ui.js `sharedKeys`): the open help
    # takes every key until Escape closes it; Ctrl+Z / Ctrl+Shift+Z undo and redo the drag.
    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    page.keyboard.press("a")  # not "accept" while the help is open
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")
    assert page.get_attribute("#review-app", "data-label-id") == str(second.pk)
    page.keyboard.press("Control+z")
    page.wait_for_selector("#save-state[data-kind=saved]")
    page.keyboard.press("Control+Shift+z")
    page.wait_for_selector("#save-state[data-kind=dirty]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review.png"))
    page.keyboard.press("c")
    page.wait_for_selector(f"#review-app[data-state=reviewing][data-label-id='{third.pk}']")
    page.keyboard.press("a")
    page.wait_for_selector("#review-app[data-state=empty]")
    assert page.is_visible("text=Nothing to review")
    assert page.evaluate("window.__sameDocument") is True

    second.refresh_from_db()
    assert second.status == "accepted" and second.source == "corrected"
    assert abs(second.points[0]["x"] - (snout[0] - 5)) < 0.75
    assert abs(second.points[0]["y"] - (snout[1] + 4)) < 0.75
    third.refresh_from_db()
    assert third.status == "accepted" and third.source == "human"
    tab.assert_no_console_errors()


def test_a_likely_label_error_comes_first_and_says_so(lab, open_tab, live_server):
    from django.utils import timezone

    from jobs.models import Job, JobKind, JobStatus

    submitted(lab, lab.frames[0], lab.annotator)
    suspect = submitted(lab, lab.frames[1], lab.annotator, shift=30.0)
    Job.objects.create(project=lab.project, kind=JobKind.SCORE, status=JobStatus.SUCCEEDED,
                       finished_at=timezone.now(),
                       result={"suspect_label_frame_ids": [lab.frames[1].pk]})
    tab = open_tab(lab.reviewer, "/")
    tab.page.goto(f"{live_server.url}/projects/{lab.project.pk}/review/")
    tab.page.wait_for_selector(
        f"#review-app[data-state=reviewing][data-label-id='{suspect.pk}'][data-suspect=true]")
    assert tab.page.is_visible("#facts >> text=likely label error")
    tab.assert_no_console_errors()

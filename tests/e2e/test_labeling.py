"""The labeling page in Chromium: place, undo/redo, occlude, submit, next frame, no reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import SCREENSHOTS, TRUE_POINTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def label_url(project) -> str:
    return f"/projects/{project.pk}/label/"


def wait_labeling(page, not_frame: int | None = None) -> int:
    """Wait until a frame is on the canvas (another than `not_frame`); returns its id."""
    if not_frame is None:
        page.wait_for_selector("#label-app[data-state=labeling]")
    else:
        page.wait_for_function(
            "f => { const r = document.getElementById('label-app');"
            " return r.dataset.state === 'labeling' && r.dataset.frameId !== String(f); }",
            arg=not_frame)
    return int(page.get_attribute("#label-app", "data-frame-id"))


def screen_of(page, frame, x: float, y: float) -> tuple[float, float]:
    """Where image point (x, y) is on screen: the frame fits the stage with a 4% margin."""
    box = page.locator("#canvas").bounding_box()
    scale = min(box["width"] / frame.width, box["height"] / frame.height) * 0.96
    left = (box["width"] - frame.width * scale) / 2
    top = (box["height"] - frame.height * scale) / 2
    return box["x"] + left + (x + 0.5) * scale, box["y"] + top + (y + 0.5) * scale


def wait_saved(page, version: int | None = None) -> None:
    """Wait for the autosave to answer (a given version, or any)."""
    page.wait_for_function(
        "v => { const s = document.getElementById('save-state');"
        " const r = document.getElementById('label-app');"
        " return s.dataset.kind === 'saved' && Number(r.dataset.version) > 0"
        " && (v === null || r.dataset.version === String(v)); }", arg=version)


def part_state(page, index: int) -> str:
    return page.get_attribute(f"#parts li[data-index='{index}']", "data-state")


def api_label(page, live_server, project, frame_id: int) -> dict:
    url = f"{live_server.url}/api/projects/{project.pk}/frames/{frame_id}/label/"
    response = page.request.get(url)
    assert response.status == 200, response.text()
    return response.json()


def near(point: dict, xy: tuple[float, float], tolerance: float = 0.75) -> bool:
    return abs(point["x"] - xy[0]) <= tolerance and abs(point["y"] - xy[1]) <= tolerance


def test_label_a_frame_with_mouse_and_keys(lab, open_tab, live_server):
    tab = open_tab(lab.annotator, label_url(lab.project))
    page = tab.page
    first = wait_labeling(page)
    frame = next(f for f in lab.frames if f.pk == first)
    page.evaluate("window.__sameDocument = true")
    at = {name: screen_of(page, frame, *xy) for name, xy in TRUE_POINTS.items()}

    page.mouse.click(*at["snout"])
    assert part_state(page, 0) == "visible"
    assert page.get_attribute("#parts li[aria-current]", "data-index") == "1"  # auto-advance

    # Place leftear in the wrong spot, undo, redo, undo again and place it right.
    page.mouse.click(*screen_of(page, frame, 150, 150))
    assert part_state(page, 1) == "visible"
    page.keyboard.press("Control+z")
    assert part_state(page, 1) == "unplaced"
    assert page.get_attribute("#parts li[aria-current]", "data-index") == "1"
    page.keyboard.press("Control+Shift+z")
    assert part_state(page, 1) == "visible"
    page.keyboard.press("Control+z")
    page.mouse.click(*at["leftear"])
    assert part_state(page, 1) == "visible"

    page.keyboard.press("x")  # rightear: not present
    assert part_state(page, 2) == "absent"
    page.keyboard.press("o")  # tailbase: occluded, then placed where it is hidden
    page.mouse.click(*at["tailbase"])
    assert part_state(page, 3) == "occluded"

    # Drag the snout 6 px to the right.
    snout = (TRUE_POINTS["snout"][0] + 6, TRUE_POINTS["snout"][1])
    page.mouse.move(*at["snout"])
    page.mouse.down()
    page.mouse.move(*screen_of(page, frame, *snout), steps=4)
    page.mouse.up()

    # The autosave lands as a draft within ~1.5 s.
    wait_saved(page)
    assert api_label(page, live_server, lab.project, first)["status"] == "draft"

    page.keyboard.press("Enter")
    second = wait_labeling(page, not_frame=first)
    assert page.evaluate("window.__sameDocument") is True  # no page reload
    assert second != first

    saved = api_label(page, live_server, lab.project, first)
    assert saved["status"] == "submitted" and saved["source"] == "human"
    points = saved["points"]
    assert points[0]["state"] == "visible" and near(points[0], snout)
    assert points[1]["state"] == "visible" and near(points[1], TRUE_POINTS["leftear"])
    assert points[2] == {"bodypart": points[2]["bodypart"], "x": None, "y": None, "state": "absent"}
    assert points[3]["state"] == "occluded" and near(points[3], TRUE_POINTS["tailbase"])
    assert saved["seconds_spent"] > 0

    # A draft on the next frame survives a reload; the lease brings the same frame back.
    page.mouse.click(*screen_of(page, frame, 120, 60))
    wait_saved(page, 1)
    page.reload()
    assert wait_labeling(page) == second
    assert part_state(page, 0) == "visible"
    assert page.evaluate("window.__sameDocument") is None  # this one did reload
    assert api_label(page, live_server, lab.project, first)["status"] == "submitted"

    tab.assert_no_console_errors()


def test_two_annotators_never_share_a_frame(lab, open_tab):
    one = open_tab(lab.annotator, label_url(lab.project))
    two = open_tab(lab.annotator2, label_url(lab.project))
    a = wait_labeling(one.page)
    b = wait_labeling(two.page)
    assert a != b

    # One submits (every part marked not present, after the confirmation) and moves on.
    one.page.keyboard.press("Enter")
    one.page.wait_for_selector("#toast:has-text('Not placed')")
    one.page.keyboard.press("Enter")
    c = wait_labeling(one.page, not_frame=a)
    assert c not in (a, b)
    two.page.reload()
    assert wait_labeling(two.page) == b
    one.assert_no_console_errors()
    two.assert_no_console_errors()


def test_conflict_loads_the_current_label(lab, open_tab, live_server):
    tab = open_tab(lab.annotator, label_url(lab.project))
    page = tab.page
    fid = wait_labeling(page)
    frame = next(f for f in lab.frames if f.pk == fid)
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["snout"]))
    wait_saved(page, 1)

    # The same user saves version 2 elsewhere (another tab): snout absent, leftear placed.
    current = api_label(page, live_server, lab.project, fid)
    points = [dict(p, x=None, y=None, state="absent") for p in current["points"]]
    points[1].update(x=50.0, y=60.0, state="visible")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.put(
        f"{live_server.url}/api/projects/{lab.project.pk}/frames/{fid}/label/",
        data={"points": points, "version": 1, "seconds_spent": 1, "source": "human",
              "request_id": "5b0e1d7c-7c1c-4b3a-9a55-2f3f4b1d0c11", "entry": None,
              "submit": False},
        headers={"X-CSRFToken": csrf, "Referer": live_server.url})
    assert response.status == 200, response.text()

    page.keyboard.press("3")
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["rightear"]))
    page.wait_for_selector("#toast[data-kind=error]:has-text('changed elsewhere')")
    assert part_state(page, 1) == "visible"  # version 2's leftear is on screen now
    assert page.get_attribute("#label-app", "data-version") in ("1", "2")
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["rightear"]))
    wait_saved(page, 3)
    tab.errors = [e for e in tab.errors if "409" not in e]  # the conflict itself is expected
    tab.assert_no_console_errors()


def test_skip_asks_for_a_reason_and_moves_on(lab, open_tab):
    tab = open_tab(lab.annotator, label_url(lab.project))
    page = tab.page
    first = wait_labeling(page)
    page.keyboard.press("s")
    page.wait_for_selector("#reason-dialog[open]")
    page.keyboard.press("1")  # first preset
    assert wait_labeling(page, not_frame=first) != first
    tab.assert_no_console_errors()


def test_empty_queue_says_so(transactional_db, open_tab):
    from accounts.models import Role
    from tests.factories import MembershipFactory, ProjectFactory

    project = ProjectFactory()
    user = MembershipFactory(project=project, role=Role.ANNOTATOR).user
    tab = open_tab(user, label_url(project))
    tab.page.wait_for_selector("#label-app[data-state=empty]")
    assert tab.page.is_visible("text=Nothing to label right now")
    tab.page.keyboard.press("?")
    assert tab.page.is_visible("#help")
    tab.assert_no_console_errors()


LIKELIHOODS = {"snout": 0.95, "leftear": 0.88, "rightear": 0.72, "tailbase": 0.31}


def fake_model(page, project, offset: float = 1.5) -> None:
    """Answer the learning app's two endpoints as a trained model would (contract shapes)."""
    parts = {bp.name: bp.pk for bp in project.bodyparts.all()}
    prediction = {"model_version": 7, "points": [
        {"bodypart": parts[name], "x": x + offset, "y": y - offset, "likelihood": LIKELIHOODS[name]}
        for name, (x, y) in TRUE_POINTS.items()]}
    created = (datetime.now(UTC) - timedelta(minutes=4)).isoformat()
    current = {"id": 7, "iteration": 4, "created_at": created,
               "test_rmse_px": 4.3, "previous_test_rmse_px": 6.1}
    page.route("**/frames/*/prediction/", lambda route: route.fulfill(json=prediction))
    page.route("**/models/current/", lambda route: route.fulfill(json=current))


def test_suggestions_prefill_and_accept_confident(lab, open_tab, live_server):
    tab = open_tab(lab.annotator, "/")
    page = tab.page
    fake_model(page, lab.project)
    page.goto(f"{live_server.url}{label_url(lab.project)}")
    fid = wait_labeling(page)
    frame = next(f for f in lab.frames if f.pk == fid)
    page.wait_for_selector("#suggestions:not([hidden])")
    assert page.inner_text("#parts li[data-index='3'] .confidence") == "0.31"
    assert "test error 6.1 → 4.3 px" in page.inner_text("#model-line")

    page.keyboard.press("c")  # confident only: the tail base (0.31) stays a suggestion
    assert [part_state(page, i) for i in range(4)] == ["visible", "visible", "visible", "unplaced"]
    assert page.get_attribute("#parts li[aria-current]", "data-index") == "3"
    page.keyboard.press("l")  # names on
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "labeling.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    page.keyboard.press("o")
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["tailbase"]))
    wait_saved(page)
    saved = api_label(page, live_server, lab.project, fid)
    assert saved["source"] == "corrected_prediction"
    assert near(saved["points"][0], (TRUE_POINTS["snout"][0] + 1.5, TRUE_POINTS["snout"][1] - 1.5))
    assert saved["points"][3]["state"] == "occluded"

    page.keyboard.press("a")  # nothing left to accept: says so, changes nothing
    page.wait_for_selector("#toast:has-text('Nothing to accept')")
    tab.assert_no_console_errors()


def test_a_failed_autosave_is_retried_with_the_same_request_id(lab, open_tab, live_server):
    tab = open_tab(lab.annotator, label_url(lab.project))
    page = tab.page
    fid = wait_labeling(page)
    frame = next(f for f in lab.frames if f.pk == fid)
    sent = []

    def flaky(route):
        if route.request.method != "PUT":
            return route.continue_()
        sent.append(route.request.post_data_json["request_id"])
        return route.abort("failed") if len(sent) == 1 else route.continue_()

    page.route("**/frames/*/label/", flaky)
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["snout"]))
    wait_saved(page, 1)
    assert len(sent) == 2 and sent[0] == sent[1]
    assert api_label(page, live_server, lab.project, fid)["version"] == 1
    tab.errors = [e for e in tab.errors if "ERR_FAILED" not in e]  # the abort we caused
    tab.assert_no_console_errors()


def test_works_under_a_strict_content_security_policy(lab, open_tab, live_server):
    """No inline script or style: the page runs under the policy the platform will send."""
    policy = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
              " connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
    tab = open_tab(lab.annotator, "/")
    page = tab.page

    def with_policy(route):
        response = route.fetch()
        route.fulfill(response=response,
                      headers={**response.headers, "content-security-policy": policy})

    page.route(f"**{label_url(lab.project)}", with_policy)
    page.goto(f"{live_server.url}{label_url(lab.project)}")
    fid = wait_labeling(page)
    frame = next(f for f in lab.frames if f.pk == fid)
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["snout"]))
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    wait_saved(page, 1)
    tab.assert_no_console_errors()
    # The policy is in force: an inline script is refused.
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.__inline = 1'; document.body.append(s); }""")
    assert page.evaluate("window.__inline") is None


def test_submit_after_the_lease_lapsed_renews_it(lab, open_tab, live_server):
    from django.utils import timezone

    from annotation.models import QueueEntry

    tab = open_tab(lab.annotator, label_url(lab.project))
    page = tab.page
    fid = wait_labeling(page)
    frame = next(f for f in lab.frames if f.pk == fid)
    page.mouse.click(*screen_of(page, frame, *TRUE_POINTS["snout"]))
    wait_saved(page, 1)
    QueueEntry.objects.filter(frame_id=fid).update(
        lease_expires_at=timezone.now() - timezone.timedelta(minutes=1))
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # the other parts: not present
    assert wait_labeling(page, not_frame=fid) != fid
    assert api_label(page, live_server, lab.project, fid)["status"] == "submitted"
    assert any("409" in e for e in tab.errors)  # the first try was refused
    tab.errors = [e for e in tab.errors if "409" not in e]
    tab.assert_no_console_errors()


def test_without_a_model_no_prediction_is_asked_and_no_error_logged(lab, open_tab):
    # Each frame used to ask frames/<id>/prediction/, a 404 (and a console error) until a model
    # exists; models/current/ now says "null" once and the page asks for nothing more.
    tab = open_tab(lab.annotator, "/")
    page = tab.page
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    answers = {}
    page.on("response", lambda r: answers.setdefault(r.url.split("/api/")[-1], r.status))
    page.goto(tab.page.url.rstrip("/") + label_url(lab.project))
    first = wait_labeling(page)
    page.keyboard.press("s")  # skip: a second frame, still without asking
    page.wait_for_selector("#reason-dialog[open]")
    page.keyboard.press("1")
    wait_labeling(page, not_frame=first)
    assert answers.get(f"projects/{lab.project.pk}/models/current/") == 200
    assert page.is_hidden("#model-line") and page.is_hidden("#suggestions")
    assert not [url for url in asked if "/prediction/" in url]
    tab.assert_no_console_errors()


def test_why_this_frame_shows_the_scores_not_the_stored_prediction(lab, open_tab):
    from annotation.models import QueueEntry

    # Scoring also stores the model's predicted keypoints (a list) and may name the strategy.
    QueueEntry.objects.filter(project=lab.project).update(
        reason="uncertainty", priority=0.61,
        components={"score": 0.61, "confidence": 0.42, "strategy": "hybrid",
                    "keypoints": [[10.0, 20.0, 0.5]] * 4})
    tab = open_tab(lab.annotator, label_url(lab.project))
    page = tab.page
    wait_labeling(page)
    title = page.get_attribute("#frame-info .reason", "title")
    assert title == "Why this frame: uncertainty, priority 0.61 (score 0.61, confidence 0.42)"
    tab.assert_no_console_errors()

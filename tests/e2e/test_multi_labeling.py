"""The labeling and review pages of a two-animal project in Chromium (issue 17, item 2).

Frames show two synthetic mice; the annotator places both, names their tracks, duplicates,
deletes and cycles animals, and submits; the label read back from the API holds the two
instances. Server refusals (duplicate tracks, a third animal) are shown and lose nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile

from accounts.models import Role
from tests.e2e.conftest import SCREENSHOTS, TRUE_POINTS
from tests.e2e.test_labeling import api_label, fake_model, label_url, near, wait_labeling
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 320, 300
# Mouse A is drawn where TRUE_POINTS says; mouse B is the same mouse moved down and left.
B_SHIFT = (-20.0, 130.0)
MOUSE = {"A": TRUE_POINTS,
         "B": {k: (x + B_SHIFT[0], y + B_SHIFT[1]) for k, (x, y) in TRUE_POINTS.items()}}
PARTS = list(TRUE_POINTS)  # the factory's skeleton order


def two_mice_png(index: int) -> bytes:
    """An arena with two top-view mice (the e2e mouse of conftest.frame_png, twice)."""
    rng = np.random.default_rng(index)
    image = np.full((HEIGHT, WIDTH, 3), (62, 70, 78), np.uint8)
    image += rng.integers(0, 12, image.shape, dtype=np.uint8)
    for dx, dy in ((0, 0), (int(B_SHIFT[0]), int(B_SHIFT[1]))):
        cv2.ellipse(image, (160 + dx, 100 + dy), (62, 30), 0, 0, 360, (214, 218, 222), -1)
        cv2.ellipse(image, (222 + dx, 94 + dy), (24, 17), -10, 0, 360, (224, 226, 230), -1)
        cv2.circle(image, (204 + dx, 70 + dy), 9, (180, 160, 230), -1)
        cv2.circle(image, (206 + dx, 118 + dy), 9, (180, 160, 230), -1)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


@dataclass
class PairLab:
    project: object
    frames: list
    annotator: object
    reviewer: object


def make_pair_lab(individuals: list[str] | None = None, n_frames: int = 2) -> PairLab:
    from annotation.queue import enqueue_frames
    from videos.models import Frame, FrameOrigin

    project = ProjectFactory(name="E2E mouse pair", max_animals=2, individuals=individuals or [])
    frames = []
    for i in range(n_frames):
        frame = Frame(project=project, width=WIDTH, height=HEIGHT, origin=FrameOrigin.IMPORTED,
                      external_path=f"labeled-data/pair/img{i:04d}.png")
        frame.image.save(f"pair_{project.pk}_{i}.png", ContentFile(two_mice_png(i)), save=False)
        frame.save()
        frames.append(frame)
    enqueue_frames(project.pk, [f.pk for f in frames], reason="manual")
    return PairLab(project, frames,
                   annotator=MembershipFactory(project=project, role=Role.ANNOTATOR).user,
                   reviewer=MembershipFactory(project=project, role=Role.REVIEWER).user)


@pytest.fixture
def pair(transactional_db) -> PairLab:
    """Two anonymous animals per frame, two queued frames."""
    return make_pair_lab()


@pytest.fixture
def named_pair(transactional_db) -> PairLab:
    """Two named animals ("A", "B") per frame."""
    return make_pair_lab(["A", "B"], n_frames=1)


def at(page, x: float, y: float) -> tuple[float, float]:
    """Screen position of image point (x, y) (the frame fits the stage with a 4% margin)."""
    box = page.locator("#canvas").bounding_box()
    scale = min(box["width"] / WIDTH, box["height"] / HEIGHT) * 0.96
    left = (box["width"] - WIDTH * scale) / 2
    top = (box["height"] - HEIGHT * scale) / 2
    return box["x"] + left + (x + 0.5) * scale, box["y"] + top + (y + 0.5) * scale


def place_mouse(page, mouse: str) -> None:
    """Click every body part of a mouse in order (the next part becomes active by itself)."""
    for name in PARTS:
        page.mouse.click(*at(page, *MOUSE[mouse][name]))


def instances(page) -> list[dict]:
    """The animals panel: per row its track, placed count, current and duplicate marks."""
    return page.eval_on_selector_all("#instances .instance", """rows => rows.map(r => ({
        track: r.querySelector('.track').value, count: r.querySelector('.count').textContent,
        current: r.getAttribute('aria-current') === 'true',
        duplicate: r.classList.contains('is-duplicate')}))""")


def current(page) -> int:
    return [i["current"] for i in instances(page)].index(True)


def set_track(page, index: int, name: str) -> None:
    field = page.locator(f"#instances .instance[data-index='{index}'] .track")
    if field.evaluate("f => f.tagName") == "SELECT":
        field.select_option(name)
    else:
        field.fill(name)
        field.press("Enter")


def wait_instances(page, n: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('#instances .instance').length === n",
                           arg=n)


def wait_version(page, version: int) -> None:
    page.wait_for_function(
        "v => document.getElementById('save-state').dataset.kind === 'saved'"
        " && document.getElementById('label-app').dataset.version === String(v)", arg=version)


def by_track(label: dict) -> dict[str, list[dict]]:
    return {i["track"]: i["points"] for i in label["points"]}


def assert_mouse(points: list[dict], mouse: str, offset=(0.0, 0.0)) -> None:
    for name, p in zip(PARTS, points, strict=True):
        x, y = MOUSE[mouse][name]
        assert p["state"] == "visible" and near(p, (x + offset[0], y + offset[1])), (name, p)


def test_place_two_animals_edit_tracks_duplicate_delete_cycle_submit(pair, open_tab, live_server):
    tab = open_tab(pair.annotator, label_url(pair.project))
    page = tab.page
    first = wait_labeling(page)
    assert page.is_visible("#animals")
    assert instances(page) == [{"track": "", "count": "0 / 4", "current": True, "duplicate": False}]

    place_mouse(page, "A")
    set_track(page, 0, "left")
    page.keyboard.press("n")  # a second animal: clicks go to it now
    wait_instances(page, 2)
    assert current(page) == 1
    place_mouse(page, "B")
    set_track(page, 1, "right")
    assert [(i["track"], i["count"]) for i in instances(page)] == [("left", "4 / 4"),
                                                                   ("right", "4 / 4")]

    page.keyboard.press("n")  # a third is one too many for this project
    page.wait_for_selector("#toast:has-text('at most 2 animals')")
    assert len(instances(page)) == 2

    # Delete "right", duplicate "left" (shifted, so both show), then undo both.
    page.keyboard.press("Shift+Delete")
    wait_instances(page, 1)
    assert instances(page)[0]["track"] == "left"
    page.keyboard.press("d")
    wait_instances(page, 2)
    assert current(page) == 1 and instances(page)[1]["count"] == "4 / 4"
    page.keyboard.press("Control+z")
    wait_instances(page, 1)
    page.keyboard.press("Control+z")
    wait_instances(page, 2)
    assert [i["track"] for i in instances(page)] == ["left", "right"]

    # Cycle with , and . ; pressing on a point of the other animal makes it the current one.
    page.keyboard.press(",")
    assert current(page) == 0
    page.keyboard.press(".")
    assert current(page) == 1
    snout = MOUSE["A"]["snout"]
    page.mouse.move(*at(page, *snout))
    page.mouse.down()
    page.mouse.move(*at(page, snout[0] + 5, snout[1]), steps=4)
    page.mouse.up()
    assert current(page) == 0
    page.keyboard.press("3")  # body-part keys act on the current animal: its right ear
    assert page.get_attribute("#parts li[aria-current]", "data-index") == "2"

    page.wait_for_function("() => document.getElementById('save-state').dataset.kind === 'saved'"
                           " && Number(document.getElementById('label-app').dataset.version) > 0")
    draft = api_label(page, live_server, pair.project, first)
    assert draft["status"] == "draft" and sorted(by_track(draft)) == ["left", "right"]

    page.keyboard.press("Enter")  # every part placed: submits at once
    wait_labeling(page, not_frame=first)
    assert instances(page) == [{"track": "", "count": "0 / 4", "current": True, "duplicate": False}]
    saved = api_label(page, live_server, pair.project, first)
    assert saved["status"] == "submitted"
    tracks = by_track(saved)
    assert list(tracks) == ["left", "right"]
    assert near(tracks["left"][0], (snout[0] + 5, snout[1]))  # the dragged snout
    for name, p in list(zip(PARTS, tracks["left"], strict=True))[1:]:
        assert near(p, MOUSE["A"][name]), (name, p)
    assert_mouse(tracks["right"], "B")
    tab.assert_no_console_errors()


def test_server_refusals_are_shown_and_nothing_is_lost(named_pair, open_tab, live_server):
    tab = open_tab(named_pair.annotator, label_url(named_pair.project))
    page = tab.page
    fid = wait_labeling(page)
    # Named animals: a select of the project's individuals, the first free name by default.
    assert page.eval_on_selector_all("#instances .track option", "os => os.map(o => o.value)") \
        == ["", "A", "B"]
    page.mouse.click(*at(page, *MOUSE["A"]["snout"]))
    page.keyboard.press("n")
    wait_instances(page, 2)
    page.mouse.click(*at(page, *MOUSE["B"]["snout"]))
    assert [i["track"] for i in instances(page)] == ["A", "B"]
    wait_version(page, 1)

    # Both called "A": marked on the page, and the server's 400 says why; the frame stays.
    set_track(page, 1, "A")
    assert [i["duplicate"] for i in instances(page)] == [True, True]
    page.keyboard.press("Enter")
    page.wait_for_selector("#toast:has-text('Not placed: A: leftear')")
    page.keyboard.press("Enter")  # submit the other parts as not present
    page.wait_for_selector("#toast[data-kind=error]:has-text('same track')")
    assert page.inner_text("#save-state").startswith("Not saved")
    assert int(page.get_attribute("#label-app", "data-frame-id")) == fid
    assert [(i["track"], i["count"]) for i in instances(page)] == [("A", "1 / 4"), ("A", "1 / 4")]

    # A third animal forced into the request (as a stale page might send) is refused too.
    def third_animal(route):
        body = route.request.post_data_json
        body["points"].append(dict(body["points"][0], track=""))
        route.continue_(post_data=json.dumps(body))

    page.route("**/frames/*/label/", third_animal)
    set_track(page, 1, "B")
    page.wait_for_selector("#toast[data-kind=error]:has-text('at most 2 animals')")
    page.wait_for_selector("#save-state[data-kind=error]")
    page.unroute("**/frames/*/label/")

    # The next change saves everything the page kept.
    assert current(page) == 1  # naming an animal makes it the current one
    page.keyboard.press("2")
    page.mouse.click(*at(page, *MOUSE["B"]["leftear"]))
    wait_version(page, 2)
    saved = by_track(api_label(page, live_server, named_pair.project, fid))
    assert sorted(saved) == ["A", "B"]
    assert near(saved["A"][0], MOUSE["A"]["snout"])
    assert near(saved["B"][0], MOUSE["B"]["snout"]) and near(saved["B"][1], MOUSE["B"]["leftear"])
    tab.errors = [e for e in tab.errors if "400" not in e]  # the refusals we caused
    tab.assert_no_console_errors()


def multi_prediction(page, project, offset: float = 1.5) -> None:
    """Answer the prediction as a multi-animal model does (the documented shape)."""
    fake_model(page, project)  # models/current/ names a model
    parts = {bp.name: bp.pk for bp in project.bodyparts.all()}
    answer = {"model_version": 7, "points": [], "instances": [
        {"track": track, "score": score, "points": [
            {"bodypart": parts[name], "name": name, "x": x + offset, "y": y - offset,
             "likelihood": 0.9} for name, (x, y) in MOUSE[mouse].items()]}
        for track, score, mouse in (("track_0", 0.93, "B"), ("track_1", 0.88, "A"))]}
    page.route("**/frames/*/prediction/", lambda route: route.fulfill(json=answer))


def test_predictions_prefill_every_animal_with_its_track(pair, open_tab, live_server):
    tab = open_tab(pair.annotator, "/")
    page = tab.page
    multi_prediction(page, pair.project)
    page.goto(f"{live_server.url}{label_url(pair.project)}")
    fid = wait_labeling(page)
    page.wait_for_selector("#suggestions:not([hidden])")
    assert "2 animals predicted" in page.inner_text("#suggestion-info")

    page.keyboard.press("a")
    wait_instances(page, 2)
    assert [(i["track"], i["count"]) for i in instances(page)] == [("track_0", "4 / 4"),
                                                                   ("track_1", "4 / 4")]
    page.keyboard.press("l")  # names on, for the screenshot
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "labeling-multi.png"))
    page.keyboard.press("a")  # nothing left to accept
    page.wait_for_selector("#toast:has-text('Nothing to accept')")
    page.keyboard.press("Enter")
    wait_labeling(page, not_frame=fid)

    saved = api_label(page, live_server, pair.project, fid)
    assert saved["source"] == "corrected_prediction"
    tracks = by_track(saved)
    assert sorted(tracks) == ["track_0", "track_1"]
    assert_mouse(tracks["track_0"], "B", offset=(1.5, -1.5))
    assert_mouse(tracks["track_1"], "A", offset=(1.5, -1.5))
    tab.assert_no_console_errors()


def submitted_pair(lab: PairLab, user, tracks: dict[str, tuple[str, float]]):
    """A submitted two-animal label: track → (mouse, x shift), in the dict's order."""
    from annotation.labels import save_label

    parts = list(lab.project.bodyparts.all())
    points = [{"track": track, "points": [
        {"bodypart": bp.pk, "x": MOUSE[mouse][bp.name][0] + shift, "y": MOUSE[mouse][bp.name][1],
         "state": "visible"} for bp in parts]} for track, (mouse, shift) in tracks.items()]
    return save_label(lab.project, lab.frames[0], user, points, base_version=0, submit=True)


def test_review_shows_every_animal_and_corrects_one(pair, open_tab, live_server):
    label = submitted_pair(pair, pair.annotator, {"left": ("A", 6.0), "right": ("B", 0.0)})
    # A second opinion that lists the animals the other way round.
    other = MembershipFactory(project=pair.project, role=Role.ANNOTATOR).user
    submitted_pair(pair, other, {"x": ("B", 0.0), "y": ("A", 2.0)})
    tab = open_tab(pair.reviewer, "/")
    page = tab.page
    multi_prediction(page, pair.project)
    page.goto(f"{live_server.url}/projects/{pair.project.pk}/review/")
    page.wait_for_selector(f"#review-app[data-state=reviewing][data-label-id='{label.pk}']")
    assert [(i["track"], i["count"]) for i in instances(page)] == [("left", "4 / 4"),
                                                                   ("right", "4 / 4")]
    # The comparison pairs this animal with the other annotator's same animal (4 px apart).
    page.wait_for_function("() => document.getElementById('model-state').textContent === ''")
    row = page.locator("#compare tr[data-index='0'] td")
    assert row.nth(3).inner_text() == "4.0"
    assert row.nth(2).inner_text() == "4.7"  # to the model's "track_1": (6 - 1.5, 1.5) px off

    page.keyboard.press(".")
    assert current(page) == 1
    snout = MOUSE["A"]["snout"]
    page.mouse.move(*at(page, snout[0] + 6, snout[1]))
    page.mouse.down()
    page.mouse.move(*at(page, *snout), steps=5)
    page.mouse.up()
    assert current(page) == 0  # pressing on its point made "left" the current animal
    set_track(page, 1, "mouse B")
    page.wait_for_selector("#save-state[data-kind=dirty]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-multi.png"))
    page.keyboard.press("c")
    page.wait_for_function(
        f"() => document.getElementById('review-app').dataset.labelId !== '{label.pk}'")

    label.refresh_from_db()
    assert label.status == "accepted" and label.source == "corrected"
    tracks = {i["track"]: i["points"] for i in label.points}
    assert list(tracks) == ["left", "mouse B"]
    assert near(tracks["left"][0], snout)
    assert near(tracks["left"][1], (MOUSE["A"]["leftear"][0] + 6, MOUSE["A"]["leftear"][1]))
    assert_mouse(tracks["mouse B"], "B")
    tab.assert_no_console_errors()

"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Chromium comes from the system (`apt-get install -y chromium`), not from `playwright install`,
so the tests skip only where /usr/bin/chromium is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile

from accounts.models import Role
from tests.factories import MembershipFactory, ProjectFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "pass-word-123"
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
# Where the synthetic animal's body parts are drawn (image pixels, pixel centers at integers).
TRUE_POINTS = {"snout": (236.0, 92.0), "leftear": (204.0, 70.0), "rightear": (206.0, 118.0),
               "tailbase": (96.0, 104.0)}
# Chromium reports every 4xx response in the console. The browser asks for /favicon.ico on its
# own, which is no error of the page. Pages ask for a frame's prediction (a 404 until a model
# exists) only once models/current/ has named a model, so those never show up here.
EXPECTED_404 = ("/favicon.ico",)


@dataclass
class Tab:
    """A logged-in page plus the console errors it collected."""

    page: object
    errors: list[str] = field(default_factory=list)

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], self.errors


@pytest.fixture
def open_tab(browser, live_server) -> Iterator:
    """open_tab(user) → a Tab in a fresh browser context, logged in through the login page."""
    contexts = []

    def make(user, next_url: str = "/") -> Tab:
        context = browser.new_context(viewport={"width": 1400, "height": 860})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page)

        def on_console(message) -> None:
            url = (message.location or {}).get("url", "")
            if message.type == "error" and not any(p in url for p in EXPECTED_404):
                tab.errors.append(f"{message.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
        page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}{next_url}")
        return tab

    yield make
    for context in contexts:
        context.close()


def frame_png(index: int, width: int = 320, height: int = 200) -> bytes:
    """A synthetic top view of a mouse on an arena floor, a little different per frame."""
    rng = np.random.default_rng(index)
    image = np.full((height, width, 3), (62, 70, 78), np.uint8)
    image += rng.integers(0, 12, image.shape, dtype=np.uint8)
    cv2.rectangle(image, (8, 8), (width - 9, height - 9), (96, 104, 112), 2)
    dx = index * 3
    cv2.ellipse(image, (160 + dx, 100), (62, 30), 0, 0, 360, (214, 218, 222), -1)
    cv2.ellipse(image, (222 + dx, 94), (24, 17), -10, 0, 360, (224, 226, 230), -1)
    cv2.circle(image, (204 + dx, 70), 9, (180, 160, 230), -1)
    cv2.circle(image, (206 + dx, 118), 9, (180, 160, 230), -1)
    cv2.line(image, (98 + dx, 104), (30 + dx, 150), (170, 150, 210), 4)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


def make_frames(project, n: int, width: int = 320, height: int = 200) -> list:
    from videos.models import Frame, FrameOrigin

    frames = []
    for i in range(n):
        frame = Frame(project=project, width=width, height=height, origin=FrameOrigin.IMPORTED,
                      external_path=f"labeled-data/e2e/img{i:04d}.png")
        frame.image.save(f"e2e_{project.pk}_{i}.png", ContentFile(frame_png(i, width, height)),
                         save=False)
        frame.save()
        frames.append(frame)
    return frames


@dataclass
class Lab:
    project: object
    frames: list
    annotator: object
    annotator2: object
    reviewer: object


@pytest.fixture
def lab(transactional_db) -> Lab:
    """A project with three queued frames, two annotators and a reviewer."""
    from annotation.queue import enqueue_frames

    project = ProjectFactory(name="E2E mice")
    frames = make_frames(project, 3)
    enqueue_frames(project.pk, [f.pk for f in frames], reason="manual")
    return Lab(
        project=project, frames=frames,
        annotator=MembershipFactory(project=project, role=Role.ANNOTATOR).user,
        annotator2=MembershipFactory(project=project, role=Role.ANNOTATOR).user,
        reviewer=MembershipFactory(project=project, role=Role.REVIEWER).user,
    )

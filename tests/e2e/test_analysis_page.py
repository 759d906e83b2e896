"""The "Analysis & exports" page in Chromium: analyse a video and download its pose table,
download a model bundle, export the labels; a screenshot."""

from __future__ import annotations

import pytest

from accounts.models import Role
from learning.models import CurrentModel
from learning.training.registry import clear_cache
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import MembershipFactory, ProjectFactory
from tests.learning.conftest import add_labeled_frames
from tests.learning.helpers import make_version
from tests.videofactory import make_video
from videos.ingest import add_video

pytestmark = pytest.mark.browser


def test_pi_analyses_exports_and_downloads(open_tab, transactional_db, tmp_path):
    clear_cache()
    project = ProjectFactory(name="Analysis mice")
    pi = MembershipFactory(project=project, role=Role.PI).user
    clip = make_video(tmp_path, n_frames=16)
    add_video(project, clip.path, name="session1.mp4", register=True)
    add_labeled_frames(project, tmp_path, 3)
    version = make_version(project)
    CurrentModel.objects.create(project=project, version=version)

    tab = open_tab(pi, f"/projects/{project.pk}/analysis/")
    page = tab.page
    assert "session1.mp4" in page.locator("#videos").inner_text()

    # Building the bundle (ONNX + TorchScript export) takes ~8 s on a busy 2-core machine.
    with page.expect_download(timeout=90_000) as bundle:
        page.get_by_role("button", name=f"Download model {version.iteration} (current)").click(
            timeout=90_000)
    assert bundle.value.suggested_filename.endswith(".zip")

    page.select_option("#datasets select[name=format]", "coco")
    page.get_by_role("button", name="Export labels").click()
    page.wait_for_selector("#datasets a[download]")
    assert "Dataset exported" in page.locator(".messages").inner_text()

    # Celery runs eagerly here, so the analysis is done when the page comes back.
    page.get_by_role("button", name="Analyse").click()
    page.wait_for_selector("#videos a[download]")
    assert "queued" in page.locator(".messages").inner_text()
    with page.expect_download() as table:
        page.locator("#videos a[download]", has_text=".h5").first.click()
    assert table.value.suggested_filename.startswith("session1")
    page.locator("#jobs li", has_text="analyze").first.wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "analysis.png"), full_page=True)
    tab.assert_no_console_errors()
    clear_cache()

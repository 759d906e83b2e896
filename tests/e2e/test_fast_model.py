"""The models page in Chromium: the PI presses "Make a fast model" and the student appears
beside its teacher (Celery runs eagerly here, so it is distilled within the request)."""

from __future__ import annotations

import pytest

from accounts.models import Role
from learning.models import CurrentModel, ModelVersion, VersionKind, VersionStatus
from learning.training.registry import clear_cache
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import MembershipFactory, ProjectFactory
from tests.learning.conftest import add_labeled_frames
from tests.learning.helpers import make_version
from tests.videofactory import make_video
from videos.ingest import add_video

pytestmark = pytest.mark.browser


def test_pi_makes_a_fast_model_from_the_models_page(open_tab, transactional_db, tmp_path,
                                                    settings):
    settings.TRAIN_DEFAULT_MINUTES = 0.05  # the button's default budget: seconds here
    clear_cache()
    project = ProjectFactory(name="Fast mice")
    pi = MembershipFactory(project=project, role=Role.PI).user
    add_video(project, make_video(tmp_path, n_frames=16).path, name="clip.mp4", register=True)
    add_labeled_frames(project, tmp_path, 6)
    teacher = make_version(project)
    CurrentModel.objects.create(project=project, version=teacher)

    tab = open_tab(pi, f"/projects/{project.pk}/models/")
    page = tab.page
    page.get_by_role("button", name="Make a fast model").click()
    page.wait_for_selector("#fast-models", timeout=180_000)
    student = ModelVersion.objects.get(project=project, kind=VersionKind.STUDENT)
    assert student.status == VersionStatus.READY, student.message
    assert student.teacher == teacher
    assert "queued" in page.locator(".messages").inner_text()
    row = page.locator("#fast-models tbody tr").first.inner_text()
    assert f"#{student.iteration}" in row and "mobilenet_v3_small" in row
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "models-fast-model.png"), full_page=True)
    tab.assert_no_console_errors()
    clear_cache()

"""The model zoo in Chromium: a PI filters the list, opens an entry, starts a project from it
and uses it in another project; an annotator sees the models but none of the PI's controls.
No page logs a CSP violation or a console error."""

from __future__ import annotations

import pytest

from accounts.models import Role
from learning.models import ModelVersion, VersionKind
from learning.training.registry import clear_cache, current_version
from learning.zoo.entries import publish
from learning.zoo.models import ZooEntry
from projects.models import Project
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_csp import LISTEN
from tests.factories import MembershipFactory, ProjectFactory
from tests.learning.helpers import make_version

pytestmark = pytest.mark.browser

# What only a PI (of some project, or the entry's publisher) may use. "Start a project from
# this model" is not among them: any user may create a project (becoming its PI).
CONTROLS = ("#zoo-adopt", "#zoo-analyse", "#zoo-import",
            "form[action$='/delete/']", "[data-role=publish]", "#zoo-publish")


def _watch_csp(tab) -> list[str]:
    """CSP violations reported on every page the tab loads from now on."""
    seen: list[str] = []
    tab.page.context.add_init_script(LISTEN)
    tab.page.on("console", lambda m: seen.append(m.text)
                if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
                else None)
    return seen


def _settled(tab, seen: list[str]) -> None:
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.evaluate("window.__csp || []") == [], tab.page.url
    assert seen == [], seen


@pytest.fixture
def zoo(transactional_db):
    clear_cache()
    source = ProjectFactory(name="Zoo source")
    pi = MembershipFactory(project=source, role=Role.PI).user
    other = ProjectFactory(name="Other mice")
    MembershipFactory(project=other, role=Role.PI, user=pi)
    annotator = MembershipFactory(project=source, role=Role.ANNOTATOR).user
    mouse = publish(make_version(source, test_rmse=3.5), pi, name="Mouse top view",
                    species="mouse", camera_view="top", licence="CC-BY-4.0", notes="synthetic")
    rat = publish(make_version(source, test_rmse=4.0), pi, name="Rat side view",
                  species="rat", camera_view="side")
    yield {"source": source, "other": other, "pi": pi, "annotator": annotator,
           "mouse": mouse, "rat": rat}
    clear_cache()


def _names(page) -> list[str]:
    return [row.inner_text() for row in page.locator("#zoo-entries tbody tr td:first-child a")
            .all()]


def test_pi_filters_starts_a_project_and_uses_a_zoo_model(open_tab, zoo, live_server):
    tab = open_tab(zoo["pi"], "/zoo/")
    seen = _watch_csp(tab)
    page = tab.page
    page.reload()
    _settled(tab, seen)
    assert sorted(_names(page)) == ["Mouse top view", "Rat side view"]
    page.fill("#zoo-filters input[name=species]", "mouse")
    page.fill("#zoo-filters input[name=view]", "top")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/zoo/?*species=mouse*")
    _settled(tab, seen)
    assert _names(page) == ["Mouse top view"]
    page.fill("#zoo-filters input[name=bodypart]", "wing")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**bodypart=wing*")
    assert _names(page) == [] and "No models match" in page.inner_text("#zoo-entries")
    page.fill("#zoo-filters input[name=bodypart]", "Snout")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**bodypart=Snout*")
    assert _names(page) == ["Mouse top view"]

    page.get_by_role("link", name="Mouse top view").click()
    page.wait_for_url(f"**/zoo/{zoo['mouse'].pk}/")
    _settled(tab, seen)
    metadata = page.inner_text("#zoo-metadata")
    assert "mouse" in metadata and "CC-BY-4.0" in metadata and "3.50" in metadata
    page.fill("#zoo-start-project input[name=name]", "Zoo started mice")
    page.get_by_role("button", name="Start a project").click()
    page.wait_for_url("**/projects/*/")
    project = Project.objects.get(name="Zoo started mice")
    assert page.url == f"{live_server.url}/projects/{project.pk}/"
    _settled(tab, seen)
    assert "Zoo started mice" in page.inner_text("h1")
    assert "Mouse top view" in page.inner_text(".messages")
    assert project.bodypart_names() == zoo["mouse"].bodyparts
    started = current_version(project)
    assert started is not None and started.kind == VersionKind.TRANSFERRED
    assert started.metrics["source"]["zoo_entry"] == zoo["mouse"].pk

    page.goto(f"{live_server.url}/zoo/{zoo['mouse'].pk}/")
    page.select_option("#zoo-adopt select[name=project]", label="Other mice")
    page.get_by_role("button", name="Use in project").click()
    other = zoo["other"]
    page.wait_for_url(f"**/projects/{other.pk}/models/")
    _settled(tab, seen)
    adopted = ModelVersion.objects.get(project=other)
    assert adopted.kind == VersionKind.TRANSFERRED and current_version(other) == adopted
    source = page.locator("[data-role=source]").first
    assert source.inner_text() == "from zoo: Mouse top view"
    assert source.locator("a").get_attribute("href") == f"/zoo/{zoo['mouse'].pk}/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "zoo-adopted.png"), full_page=True)
    tab.assert_no_console_errors()


def test_pi_publishes_from_the_models_page_with_a_form(open_tab, zoo, live_server):
    source = zoo["source"]
    trained = make_version(source, test_rmse=2.5)
    tab = open_tab(zoo["pi"], f"/projects/{source.pk}/models/")
    seen = _watch_csp(tab)
    page = tab.page
    page.reload()
    _settled(tab, seen)
    page.locator(f"[data-role=publish][data-version='{trained.pk}']").click()
    page.wait_for_selector("#zoo-publish")
    _settled(tab, seen)
    form = page.locator("#zoo-publish")
    # A blank name comes back as a message, with the form still open and nothing published.
    form.locator("input[name=name]").fill("   ")
    form.get_by_role("button", name="Publish").click()
    page.wait_for_selector(".messages .msg-error")
    assert "name of 1 to 120 characters" in page.inner_text(".messages")
    assert not ZooEntry.objects.filter(source_version=trained).exists()
    assert f"#{trained.iteration}" in form.inner_text()
    form.locator("input[name=name]").fill("Arena mouse")
    form.locator("input[name=species]").fill("mouse")
    form.locator("input[name=camera_view]").fill("top")
    form.locator("input[name=licence]").fill("CC0")
    form.locator("textarea[name=notes]").fill("Eight labels.")
    form.locator("select[name=visibility]").select_option("projects")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(SCREENSHOTS / "models-publish-to-zoo.png"))
    form.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/zoo/*/")
    entry = ZooEntry.objects.get(name="Arena mouse")
    assert page.url == f"{live_server.url}/zoo/{entry.pk}/"
    assert (entry.source_version, entry.species, entry.camera_view, entry.licence,
            entry.notes, entry.visibility) == (trained, "mouse", "top", "CC0", "Eight labels.",
                                               "projects")
    assert list(entry.projects.all()) == [source]
    _settled(tab, seen)
    tab.assert_no_console_errors()


def test_an_annotator_sees_the_zoo_but_no_pi_controls(open_tab, zoo, live_server):
    tab = open_tab(zoo["annotator"], "/zoo/")
    seen = _watch_csp(tab)
    page = tab.page
    page.reload()
    _settled(tab, seen)
    assert sorted(_names(page)) == ["Mouse top view", "Rat side view"]
    # The models page (and its publish form) is not theirs at all.
    models = f"{live_server.url}/projects/{zoo['source'].pk}/models/"
    assert page.request.get(models).status == 403
    assert page.request.get(f"{models}?publish={zoo['mouse'].source_version_id}").status == 403
    for path in ("/zoo/", f"/zoo/{zoo['mouse'].pk}/", f"/zoo/{zoo['rat'].pk}/"):
        page.goto(f"{live_server.url}{path}")
        _settled(tab, seen)
        present = [c for c in CONTROLS if page.locator(c).count()]
        assert present == [], (path, present)
    page.goto(f"{live_server.url}/zoo/{zoo['mouse'].pk}/")
    assert "Mouse top view" in page.inner_text("h1")
    assert "Download bundle" in page.inner_text("main")
    assert page.locator("#zoo-start-project").count() == 1
    tab.assert_no_console_errors()

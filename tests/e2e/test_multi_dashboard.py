"""A two-animal project's dashboard in Chromium: OKS mAP, animals, identity switches."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.dashboards.factories import version
from tests.dashboards.test_multi_animal import labeled_pair, publish, swapped_tracks
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def pair_project(transactional_db):
    project = ProjectFactory(name="Fly pair", max_animals=2, individuals=["alice", "bob"])
    pi = MembershipFactory(project=project, role=Role.PI, user__username="pi").user
    curve = [(20, 7.0, .38, 6, 3), (40, 4.5, .61, 3, 1), (60, 3.1, .79, 1, 1)]
    for i, (n, err, map_oks, missed, extra) in enumerate(curve):
        version(project, n_labels=n, test_rmse=err, current=i == len(curve) - 1,
                test_map_oks=map_oks, test_recall=min(1.0, map_oks + .15),
                test_median_px=err * .8, test_missed_animals=missed,
                test_extra_animals=extra, n_test=10,
                per_bodypart_test_rmse_px={"snout": err * .8, "leftear": err,
                                           "rightear": err, "tailbase": err * 1.3})
    publish(project, labeled_pair(project), swapped_tracks())
    return project, pi


def test_multi_animal_panels_render(open_tab, pair_project):
    project, pi = pair_project
    tab = open_tab(pi, f"/projects/{project.pk}/dashboard/")
    page = tab.page
    page.wait_for_selector("body[data-dashboard-ready=true]")
    for name in ("curve-map", "animals", "bodyparts", "curve-rmse"):
        plot = page.locator(f"#plot-{name}")
        plot.locator("svg.main-svg").first.wait_for()
        assert plot.locator("g.trace").count() > 0, f"{name} drew no trace"
    assert page.locator("#plot-curve-pck").count() == 0
    assert page.locator("#plot-animals g.trace.bars").count() == 2  # missed and extra
    headline = page.locator("#identity-headline").inner_text()
    assert "400.0" in headline and "2 switches over 5 labeled frames" in headline
    assert page.locator("#table-identity tbody tr").count() == 1
    page.select_option("#curve-x", "version")
    page.wait_for_function(
        "document.querySelector('#plot-curve-map .xtitle').textContent === 'model version'")
    with page.expect_download() as csv:
        page.locator("[data-plot=curve-map] button.export", has_text="CSV").click()
    assert csv.value.suggested_filename == f"project-{project.pk}-curve-map.csv"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard_multi_animal.png"), full_page=True)
    tab.assert_no_console_errors()

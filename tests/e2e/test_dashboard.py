"""The dashboard in Chromium: every plot draws, exports work, tables sort; a screenshot."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import Role
from annotation.models import (
    AgreementRecord,
    EntryStatus,
    LabelStatus,
    QueueEntry,
    QueueReason,
    Review,
    ReviewDecision,
)
from jobs.models import Job, JobKind, JobStatus, WorkerHeartbeat
from tests.annotation.factories import LabelFactory, points_for
from tests.dashboards.factories import version
from tests.e2e.conftest import SCREENSHOTS, frame_png, make_frames
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.browser

PLOTS = ("curve-rmse", "curve-pck", "bodyparts", "likelihood", "labels-day", "reviews", "queue",
         "selected", "oracle")
PARTS = ("snout", "leftear", "rightear", "tailbase")


def seed(project, annotators, reviewer) -> None:
    """Five model versions, two annotators' labels, a queue, jobs, workers, an oracle replay."""
    now = timezone.now()
    everything = make_frames(project, 22)
    frames, waiting = everything[:12], everything[12:]
    curve = [(12, 14.0, .22), (24, 10.5, .41), (36, 8.1, .58), (48, 6.9, .69), (60, 6.5, .74)]
    for i, (n, err, pck5) in enumerate(curve):
        v = version(project, n_labels=n, test_rmse=err, current=i == len(curve) - 1,
                    test_rmse_pcutoff_px=err * .8, train_rmse_px=err * .45, pcutoff=.6,
                    test_pck={"2": pck5 * .45, "5": pck5, "10": min(1.0, pck5 * 1.3)},
                    n_train=int(n * .8), n_test=n - int(n * .8),
                    per_bodypart_test_rmse_px={p: err * f for p, f in zip(
                        PARTS, (.7, 1.0, 1.1, 1.4), strict=True)},
                    per_bodypart_train_rmse_px={p: err * .45 * f for p, f in zip(
                        PARTS, (.7, 1.0, 1.1, 1.4), strict=True)},
                    per_frame_test=[{"frame_id": f.pk, "rmse_px": err * (1 + k % 4) / 2,
                                     "image": k, "likelihoods": [
                                         min(.999, .35 + .08 * ((k * 7 + j * 3) % 9))
                                         for j in range(4)]}
                                    for k, f in enumerate(frames[:8])])
        v.eval_images = [default_storage.save(
            f"projects/{project.pk}/models/{v.pk}/eval_{k}.png", ContentFile(frame_png(k)))
            for k in range(8)]
        v.finished_at = now - timedelta(days=len(curve) - i)
        v.save()
    current = project.model_versions.order_by("-iteration").first()
    reasons = [QueueReason.UNCERTAINTY, QueueReason.DIVERSITY, QueueReason.MANUAL,
               QueueReason.TEMPORAL]
    for k, frame in enumerate(frames):
        annotator = annotators[k % 2]
        label = LabelFactory(project=project, frame=frame, annotator=annotator,
                             points=points_for(project, (100.0 + k, 80.0)),
                             seconds_spent=14.0 + 5 * (k % 5) + 6 * (k % 2),
                             submitted_at=now - timedelta(days=k % 4, hours=k))
        if k % 3 == 0:
            LabelFactory(project=project, frame=frame, annotator=annotators[(k + 1) % 2],
                         points=points_for(project, (103.0 + k, 82.0)), seconds_spent=18.0,
                         submitted_at=now - timedelta(days=k % 4))
            for bp in project.bodyparts.all():
                AgreementRecord.objects.create(project=project, frame=frame, bodypart=bp,
                                               mean_distance_px=3.6, n_pairs=1)
        if k % 5 != 4:
            decision = [ReviewDecision.ACCEPT, ReviewDecision.ACCEPT, ReviewDecision.CORRECT,
                        ReviewDecision.REJECT][k % 4]
            Review.objects.create(label=label, label_version=1, reviewer=reviewer,
                                  decision=decision)
            label.status = LabelStatus.ACCEPTED
            label.save()
        offset = (14.0 if reasons[k % 4] in (QueueReason.UNCERTAINTY, QueueReason.TEMPORAL)
                  else 5.0) + k % 3
        QueueEntry.objects.create(
            project=project, frame=frame, reason=reasons[k % 4],
            status=EntryStatus.SKIPPED if k == 5 else EntryStatus.DONE,
            leased_to=annotator, model_version_id=current.pk,
            components={"uncertainty": round(.1 * (k % 7), 2),
                        "keypoints": [[100.0 + k + offset, 80.0, .5] for _ in PARTS]})
    for frame in waiting:
        QueueEntry.objects.create(project=project, frame=frame,
                                  reason=reasons[frame.pk % 3], priority=frame.pk % 5,
                                  components={"uncertainty": .3})
    lease = QueueEntry.objects.filter(project=project, status=EntryStatus.OPEN).first()
    lease.status, lease.leased_to = EntryStatus.LEASED, annotators[0]
    lease.lease_expires_at = now + timedelta(minutes=7)
    lease.save()
    Job.objects.create(project=project, kind=JobKind.TRAIN, status=JobStatus.RUNNING,
                       progress=.62, message="epoch 31/50, loss 0.0042")
    Job.objects.create(project=project, kind=JobKind.SCORE, status=JobStatus.FAILED,
                       message="scoring stopped",
                       error="Traceback (most recent call last):\nRuntimeError: CUDA out of memory")
    WorkerHeartbeat.objects.create(hostname="worker@gpu-1", seen_at=now - timedelta(seconds=20))
    WorkerHeartbeat.objects.create(hostname="worker@cpu-1", seen_at=now - timedelta(hours=2))
    rows = ["strategy,n_labels,test_rmse_px"]
    for strategy, start, rate in [("random", 15.0, .93), ("uncertainty", 15.0, .88),
                                  ("hybrid", 15.0, .86)]:
        err = start
        for n in range(10, 70, 10):
            rows.append(f"{strategy},{n},{err:.2f}")
            err *= rate
    default_storage.save(f"projects/{project.pk}/oracle/results.csv",
                         ContentFile(("\n".join(rows) + "\n").encode()))


@pytest.fixture
def dashboard_project(transactional_db):
    project = ProjectFactory(name="Open-field mice")
    project.retrain_every_hours = 12
    project.save()
    annotators = [MembershipFactory(project=project, role=Role.ANNOTATOR,
                                    user__username=name).user for name in ("ada", "ben")]
    reviewer = MembershipFactory(project=project, role=Role.REVIEWER).user
    pi = MembershipFactory(project=project, role=Role.PI, user__username="pi").user
    seed(project, annotators, reviewer)
    return project, pi


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def assert_day_ticks(page, n_days: int | None = None) -> None:
    """The labels-per-day axis ticks are dates, each day of the data among them."""
    days = page.evaluate(
        "[...new Set(JSON.parse(document.getElementById('dashboard-data').textContent)"
        ".labeling.per_day.map((r) => r.day))]")
    assert days and n_days in (None, len(days))
    ticks = page.locator("#plot-labels-day .xtick text").all_text_contents()
    assert ticks and all(DATE.match(t) for t in ticks), ticks
    assert set(days) <= set(ticks), (days, ticks)


def test_every_plot_renders(open_tab, dashboard_project):
    project, pi = dashboard_project
    url = f"/projects/{project.pk}/dashboard/"
    tab = open_tab(pi, url)
    page = tab.page
    page.wait_for_selector("body[data-dashboard-ready=true]")
    for name in PLOTS:
        plot = page.locator(f"#plot-{name}")
        plot.locator("svg.main-svg").first.wait_for()
        box = plot.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 200, name
        assert plot.locator("g.trace").count() > 0, f"{name} drew no trace"
        assert plot.locator("path.point, path.js-line, g.point").count() > 0, f"{name} is empty"
    assert "still falling" in page.locator("#trend-hint").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "dashboard.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"dashboard screenshot: {path}")

    with page.expect_download() as csv:
        page.locator("[data-plot=curve-rmse] button.export", has_text="CSV").click()
    assert csv.value.suggested_filename == f"project-{project.pk}-curve-rmse.csv"
    with page.expect_download() as svg:
        page.locator("[data-plot=bodyparts] button.export", has_text="SVG").click()
    assert svg.value.suggested_filename.endswith(".svg")
    with page.expect_download() as png:
        page.locator("[data-plot=queue] button.export", has_text="PNG").click()
    assert png.value.suggested_filename == f"project-{project.pk}-queue.png"

    assert_day_ticks(page)

    page.select_option("#curve-x", "version")
    page.wait_for_function(
        "document.querySelector('#plot-curve-rmse .xtitle').textContent === 'model version'")

    first_cells = page.locator("#table-annotators tbody tr td:first-child")
    page.locator("#table-annotators th button", has_text="Labels").click()
    page.locator("#table-annotators th button", has_text="Labels").click()  # descending
    counts = page.locator("#table-annotators tbody tr td:nth-child(2)").all_inner_texts()
    assert counts == sorted(counts, key=int, reverse=True)
    assert first_cells.count() == 2

    tab.assert_no_console_errors()


def test_chosen_frames_panel_compares_with_the_test_error(open_tab, dashboard_project):
    project, pi = dashboard_project
    tab = open_tab(pi, f"/projects/{project.pk}/dashboard/")
    page = tab.page
    page.wait_for_selector("body[data-dashboard-ready=true]")
    panel = page.locator("[data-plot=selected]")
    plot = page.locator("#plot-selected")
    plot.locator("svg.main-svg").first.wait_for()
    s = page.evaluate("JSON.parse(document.getElementById('dashboard-data').textContent)"
                      ".active_learning.selected_vs_baseline")
    assert s["available"] and s["test_mean_px"] == pytest.approx(6.5)  # the current model's
    assert s["ratio"] > 1.2 and s["n_frames"] == 12
    headline = page.locator("#selected-ratio").inner_text()
    assert f"{s['ratio']:.1f}×" in headline and "6.5 px" in headline
    assert "picking frames the model gets wrong" in panel.inner_text()
    ticks = plot.locator(".xtick text").all_text_contents()
    assert {"uncertainty", "temporal", "diversity", "manual", "test split"} <= set(ticks), ticks
    panel.locator("summary", has_text="Per model").click()
    assert page.locator("#table-selected tbody tr").count() == 1
    tab.assert_no_console_errors()


def test_empty_project_dashboard_says_what_is_missing(open_tab, transactional_db):
    project = ProjectFactory(name="Fresh project")
    pi = MembershipFactory(project=project, role=Role.PI).user
    tab = open_tab(pi, f"/projects/{project.pk}/dashboard/")
    page = tab.page
    page.wait_for_selector("body[data-dashboard-ready=true]")
    assert "Not enough models yet" in page.locator("#trend-hint").inner_text()
    assert "No ready model yet" in page.locator("#plot-curve-rmse").inner_text()
    assert page.locator("#plot-likelihood").count() == 0
    assert "No current model yet" in page.locator("[data-plot=likelihood]").inner_text()
    selected = page.locator("[data-plot=selected]").inner_text()
    assert "Not available yet" in selected and "components[" not in selected
    tab.assert_no_console_errors()


def test_labels_of_a_single_day_tick_as_that_date(open_tab, transactional_db):
    # One day of labels used to make a 1 ms wide axis ticked "23:59:59.9996 … 00:00:00.0004".
    project = ProjectFactory(name="First day")
    pi = MembershipFactory(project=project, role=Role.PI).user
    annotator = MembershipFactory(project=project, role=Role.ANNOTATOR).user
    for frame in make_frames(project, 3):
        LabelFactory(project=project, frame=frame, annotator=annotator,
                     points=points_for(project, (100.0, 80.0)), submitted_at=timezone.now())
    tab = open_tab(pi, f"/projects/{project.pk}/dashboard/")
    page = tab.page
    page.wait_for_selector("body[data-dashboard-ready=true]")
    page.locator("#plot-labels-day g.trace").first.wait_for()
    assert_day_ticks(page, 1)
    tab.assert_no_console_errors()

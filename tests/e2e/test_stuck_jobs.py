"""A job no worker takes reads "stuck" with its reason; a PI retries or cancels it in Chromium."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from jobs.models import Job, JobKind, JobStatus, WorkerHeartbeat
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import MembershipFactory, ProjectFactory
from videos.tasks import extract_frames_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def stuck(project, kind, minutes=13):
    job = Job.objects.create(project=project, kind=kind, params={"video_id": 1, "version_id": 1})
    then = timezone.now() - timedelta(minutes=minutes)
    Job.objects.filter(pk=job.pk).update(created_at=then, dispatched_at=then)
    return job


@pytest.fixture
def setup(monkeypatch):
    """A project whose only live worker consumes `default` and `inference`, and two stuck jobs."""
    project = ProjectFactory(name="Stuck mice")
    pi = MembershipFactory(project=project, role=Role.PI).user
    annotator = MembershipFactory(project=project, role=Role.ANNOTATOR).user
    WorkerHeartbeat.objects.create(hostname="celery@cpu", queues=["default", "inference"],
                                   seen_at=timezone.now())
    train = stuck(project, JobKind.TRAIN, minutes=20)
    extract = stuck(project, JobKind.EXTRACT_FRAMES)
    sent: list[tuple] = []
    monkeypatch.setattr(extract_frames_task, "delay", lambda *args: sent.append(args))
    return project, pi, annotator, train, extract, sent


def test_a_pi_sees_why_a_job_is_stuck_and_retries_it(open_tab, setup):
    project, pi, _, train, extract, sent = setup
    tab = open_tab(pi, f"/projects/{project.pk}/")
    page = tab.page
    train_line = page.locator(f"#jobs li[data-job-id='{train.pk}']")
    train_line.get_by_text("no running worker consumes the 'training' queue").wait_for()
    assert f"train #{train.pk}: stuck" in train_line.inner_text()
    assert "queued " in train_line.locator(".job-times").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "stuck-jobs.png"), full_page=True)

    line = page.locator(f"#jobs li[data-job-id='{extract.pk}']")
    line.get_by_role("button", name="Retry").click()
    line.get_by_text(f"extract_frames #{extract.pk}: queued").wait_for()
    assert line.get_by_role("button", name="Retry").count() == 0
    assert sent == [(extract.pk,)]
    tab.assert_no_console_errors()


def test_a_pi_cancels_a_stuck_job_from_the_project_page(open_tab, setup):
    project, pi, _, train, _, _ = setup
    tab = open_tab(pi, f"/projects/{project.pk}/")
    line = tab.page.locator(f"#jobs li[data-job-id='{train.pk}']")
    line.get_by_role("button", name="Cancel").click()
    line.get_by_text(f"train #{train.pk}: cancelled").wait_for()
    assert Job.objects.get(pk=train.pk).status == JobStatus.CANCELLED
    tab.assert_no_console_errors()


def test_the_dashboard_shows_the_reason_and_retries(open_tab, setup):
    project, pi, _, train, extract, sent = setup
    tab = open_tab(pi, f"/projects/{project.pk}/dashboard/")
    page = tab.page
    line = page.locator(f"ul.dash-jobs li[data-job-id='{train.pk}']")
    assert "stuck" in line.locator(".job-line strong").inner_text()
    assert "no running worker consumes the 'training' queue" in line.inner_text()
    page.locator(f"ul.dash-jobs li[data-job-id='{extract.pk}']").get_by_role(
        "button", name="Retry").click()
    page.wait_for_load_state("load")
    page.locator(f"ul.dash-jobs li[data-job-id='{extract.pk}'] .job-line strong",
                 has_text="queued").wait_for()
    assert sent == [(extract.pk,)]


def test_an_annotator_sees_the_reason_but_no_buttons(open_tab, setup):
    project, _, annotator, train, _, _ = setup
    tab = open_tab(annotator, f"/projects/{project.pk}/")
    line = tab.page.locator(f"#jobs li[data-job-id='{train.pk}']")
    line.get_by_text("no running worker consumes the 'training' queue").wait_for()
    assert tab.page.locator("#jobs button").count() == 0

import pytest
from django.test import Client

from learning.models import CurrentModel, ModelVersion, VersionStatus
from learning.training.registry import current_version
from tests.learning.helpers import make_version

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("role", "expected"), [
    ("pi", 200), ("reviewer", 200), ("annotator", 403), ("outsider", 404)])
def test_models_page_roles(project, users, role, expected):
    assert _client(users[role]).get(f"/projects/{project.pk}/models/").status_code == expected


def test_models_page_lists_versions_and_compares(project, users):
    a = make_version(project, test_rmse=9.0)
    b = make_version(project, test_rmse=7.0)
    CurrentModel.objects.create(project=project, version=b)
    page = _client(users["reviewer"]).get(
        f"/projects/{project.pk}/models/?a={a.pk}&b={b.pk}").content.decode()
    assert "● current" in page and f"Model {a.iteration} vs. model {b.iteration}" in page
    assert "Make current" not in page  # reviewers cannot roll back
    detail = _client(users["reviewer"]).get(f"/projects/{project.pk}/models/{a.pk}/")
    assert detail.status_code == 200


def test_pi_rolls_back_from_the_page(project, users):
    a = make_version(project)
    b = make_version(project)
    CurrentModel.objects.create(project=project, version=b)
    response = _client(users["pi"]).post(f"/projects/{project.pk}/models/{a.pk}/activate/")
    assert response.status_code == 302 and current_version(project) == a
    refused = _client(users["reviewer"]).post(f"/projects/{project.pk}/models/{b.pk}/activate/")
    assert refused.status_code == 403 and current_version(project) == a


def test_pi_starts_and_cancels_training_from_the_page(project, users, labeled_frames):
    labeled_frames(project, 3)
    client = _client(users["pi"])
    client.post(f"/projects/{project.pk}/models/train/", {"minutes": "1"})
    version = ModelVersion.objects.get(project=project)
    page = client.get(f"/projects/{project.pk}/models/").content.decode()
    assert f"/api/projects/{project.pk}/jobs/{version.job_id}/" in page  # polled by models.js
    client.post(f"/projects/{project.pk}/models/{version.pk}/cancel/")
    version.refresh_from_db()
    assert version.status == VersionStatus.CANCELLED


def test_models_page_explains_the_a_and_b_columns(project, users):
    a = make_version(project, test_rmse=9.0)
    b = make_version(project, test_rmse=7.0)
    url = f"/projects/{project.pk}/models/?a={a.pk}"
    page = _client(users["reviewer"]).get(url).content.decode()
    assert '<th scope="col" title="The first model of the comparison">Compare A</th>' in page
    assert '<th scope="col" title="The second model of the comparison">Compare B</th>' in page
    assert 'id="compare-help"' in page and "does not change which model is current" in page
    assert f'aria-label="Compare model #{b.iteration} as B"' in page
    # The choice made survives the reload, and half a choice says what is missing.
    assert f'value="{a.pk}" aria-label="Compare model #{a.iteration} as A"' in page
    assert page.count(" checked>") == 1
    assert "Pick one model in column A and one in column B." in page

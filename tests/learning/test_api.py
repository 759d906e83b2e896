import pytest

from learning.models import CurrentModel, VersionStatus
from learning.training.registry import clear_cache
from tests.learning.helpers import make_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_cache()
    yield
    clear_cache()


def _url(project, tail):
    return f"/api/projects/{project.pk}/{tail}"


READS = ["models/", "models/{v}/", "models/current/", "frames/{f}/prediction/"]
PI_ACTIONS = ["models/train/", "models/{v}/cancel/", "models/{v}/activate/"]


@pytest.fixture
def setup(project, labeled_frames):
    frames = labeled_frames(project, 3)
    version = make_version(project)
    CurrentModel.objects.create(project=project, version=version)
    return {"v": version.pk, "f": frames[0].pk}


@pytest.mark.parametrize("tail", READS)
@pytest.mark.parametrize(("role", "expected"), [
    (None, 401), ("outsider", 404), ("other_pi", 404),
    ("annotator", 200), ("reviewer", 200), ("pi", 200), ("staff", 200),
])
def test_read_roles(project, setup, as_user, tail, role, expected):
    response = as_user(role).get(_url(project, tail.format(**setup)))
    assert response.status_code == expected


@pytest.mark.parametrize("tail", PI_ACTIONS)
@pytest.mark.parametrize(("role", "expected"), [
    (None, 401), ("outsider", 404), ("annotator", 403), ("reviewer", 403),
])
def test_pi_actions_refused(project, setup, as_user, tail, role, expected):
    response = as_user(role).post(_url(project, tail.format(**setup)), {}, format="json")
    assert response.status_code == expected


def test_train_202_then_409(project, setup, as_user):
    pi = as_user("pi")
    first = pi.post(_url(project, "models/train/"), {"minutes": 0.5}, format="json")
    assert first.status_code == 202, first.content
    assert first.json()["version"]["status"] == "queued"
    assert first.json()["job"]["kind"] == "train"
    second = pi.post(_url(project, "models/train/"), {}, format="json")
    assert second.status_code == 409


def test_train_400_with_too_few_labels(project, as_user):
    response = as_user("pi").post(_url(project, "models/train/"), {}, format="json")
    assert response.status_code == 400


def test_cancel_a_queued_training(project, setup, as_user):
    pi = as_user("pi")
    version_id = pi.post(_url(project, "models/train/"), {}, format="json").json()["version"]["id"]
    response = pi.post(_url(project, f"models/{version_id}/cancel/"))
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert pi.post(_url(project, f"models/{version_id}/cancel/")).status_code == 409
    assert pi.post(_url(project, "models/train/"), {}, format="json").status_code == 202


def test_current_contract(project, setup, as_user):
    newer = make_version(project, test_rmse=7.5)
    as_user("pi").post(_url(project, f"models/{newer.pk}/activate/"))
    body = as_user("annotator").get(_url(project, "models/current/")).json()
    assert set(body) == {"id", "iteration", "created_at", "test_rmse_px", "previous_test_rmse_px"}
    assert body["id"] == newer.pk and body["test_rmse_px"] == 7.5
    assert body["previous_test_rmse_px"] == 10.0


def test_current_is_null_without_a_model(project, users, as_user, labeled_frames):
    response = as_user("pi").get(_url(project, "models/current/"))
    assert response.status_code == 200 and response.json() is None
    # Predictions stay a 404 until a model exists; pages ask for them only after this says so.
    frame = labeled_frames(project, 1)[0]
    assert as_user("pi").get(_url(project, f"frames/{frame.pk}/prediction/")).status_code == 404


def test_activate_refuses_failed_versions(project, setup, as_user):
    failed = make_version(project, status=VersionStatus.FAILED, checkpoint=False)
    assert as_user("pi").post(_url(project, f"models/{failed.pk}/activate/")).status_code == 409


def test_prediction_has_one_point_per_bodypart(project, setup, as_user):
    response = as_user("annotator").get(_url(project, f"frames/{setup['f']}/prediction/"))
    body = response.json()
    assert body["model_version"] == setup["v"]
    # Ids as in labels (what the labeling page matches on), names for people and scripts.
    assert [p["bodypart"] for p in body["points"]] == [bp.pk for bp in project.bodyparts.all()]
    assert [p["name"] for p in body["points"]] == project.bodypart_names()
    assert all(0.0 <= p["likelihood"] <= 1.0 for p in body["points"])


def test_prediction_404_without_a_current_model(project, labeled_frames, users, as_user):
    frame = labeled_frames(project, 1)[0]
    response = as_user("annotator").get(_url(project, f"frames/{frame.pk}/prediction/"))
    assert response.status_code == 404


def test_prediction_model_is_cached_per_version(project, setup, as_user, monkeypatch):
    from learning.training import registry

    calls = []
    real = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda *a, **k: calls.append(1) or real(*a, **k))
    client = as_user("pi")
    for _ in range(2):
        assert client.get(_url(project, f"frames/{setup['f']}/prediction/")).status_code == 200
    assert len(calls) == 1


def test_evaluation_image_is_served_to_members_only(project, setup, as_user):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from learning.models import ModelVersion

    name = default_storage.save(f"projects/{project.pk}/models/x/eval_0.png", ContentFile(b"png"))
    ModelVersion.objects.filter(pk=setup["v"]).update(eval_images=[name])
    url = _url(project, f"models/{setup['v']}/images/0/")
    response = as_user("reviewer").get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert as_user("outsider").get(url).status_code == 404
    assert as_user("reviewer").get(_url(project, f"models/{setup['v']}/images/1/")).status_code \
        == 404

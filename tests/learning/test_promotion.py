import pytest

from learning.errors import Conflict
from learning.models import ModelVersion, VersionStatus
from learning.training.registry import activate, current_version
from learning.training.runs import promote_if_better
from tests.learning.helpers import make_version

pytestmark = pytest.mark.django_db


def _evaluated(project, rmse, current_rmse=None):
    version = make_version(project, status=VersionStatus.EVALUATING, test_rmse=None)
    promoted = promote_if_better(version.pk, {"test_rmse_px": rmse,
                                              "current_test_rmse_px": current_rmse})
    version.refresh_from_db()
    return version, promoted


def test_first_model_becomes_current(project):
    version, promoted = _evaluated(project, 9.0)
    assert promoted and version.status == VersionStatus.READY
    assert current_version(project) == version


def test_only_a_better_model_is_promoted(project):
    first, _ = _evaluated(project, 9.0)
    worse, promoted = _evaluated(project, 9.5, current_rmse=9.0)
    assert not promoted and worse.status == VersionStatus.READY
    assert "Not promoted" in worse.message and current_version(project) == first
    better, promoted = _evaluated(project, 8.0, current_rmse=9.0)
    assert promoted and current_version(project) == better


def test_the_comparison_uses_the_current_model_on_the_same_test_frames(project):
    _evaluated(project, 5.0)  # its own (older, smaller) test set
    version, promoted = _evaluated(project, 7.0, current_rmse=8.0)
    assert promoted and current_version(project) == version


def test_without_require_improvement_every_model_is_promoted(project):
    project.require_improvement = False
    project.save()
    _evaluated(project, 5.0)
    version, promoted = _evaluated(project, 50.0, current_rmse=5.0)
    assert promoted and current_version(project) == version


def test_a_reaped_version_is_not_promoted(project):
    version = make_version(project, status=VersionStatus.FAILED)
    assert not promote_if_better(version.pk, {"test_rmse_px": 1.0})
    assert current_version(project) is None


def test_rollback_to_a_ready_version(project):
    old, _ = _evaluated(project, 9.0)
    _evaluated(project, 8.0, current_rmse=9.0)
    activate(old)
    assert current_version(project) == old


def test_rollback_refuses_versions_that_are_not_ready(project):
    failed = make_version(project, status=VersionStatus.FAILED)
    with pytest.raises(Conflict):
        activate(failed)
    assert not ModelVersion.objects.filter(status=VersionStatus.READY).exists()

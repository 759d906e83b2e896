"""Zoo fixtures: a published entry of a tiny untrained network."""

from __future__ import annotations

import pytest

from accounts.models import Role
from learning.zoo.entries import publish
from tests.factories import MembershipFactory, ProjectFactory
from tests.learning.helpers import make_version


@pytest.fixture
def source(db):
    """(project, its PI, a ready version with a real tiny checkpoint) of another lab project."""
    project = ProjectFactory()
    pi = MembershipFactory(project=project, role=Role.PI).user
    return project, pi, make_version(project, test_rmse=3.5)


@pytest.fixture
def entry(source):
    project, pi, version = source
    return publish(version, pi, name="Mouse top view", species="mouse", camera_view="top",
                   licence="CC-BY-4.0", notes="synthetic")

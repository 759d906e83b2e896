"""Fixtures for the annotation tests."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.annotation.factories import FrameFactory
from tests.factories import MembershipFactory


@pytest.fixture
def frames(project):
    """Five frames of `project` (640x480), not queued."""
    return FrameFactory.create_batch(5, project=project)


@pytest.fixture
def annotator2(project):
    return MembershipFactory(project=project, role=Role.ANNOTATOR).user


"""Creating projects."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Membership, Role
from projects.models import Project
from projects.skeleton import SkeletonSpec, set_skeleton


def create_project(
    user: AbstractBaseUser,
    *,
    name: str,
    skeleton: SkeletonSpec,
    description: str = "",
    **loop_settings: object,
) -> Project:
    """Create a project with its skeleton; the creator becomes its PI."""
    with transaction.atomic():
        project = Project.objects.create(
            name=name, description=description, created_by=user, **loop_settings
        )
        Membership.objects.create(user=user, project=project, role=Role.PI)
        set_skeleton(project, skeleton)
    return project

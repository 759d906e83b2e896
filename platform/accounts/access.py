"""The one access helper every page and API view uses.

Rules: staff are site admins (every role everywhere); other users see only projects they are
members of. A non-member asking for a project gets 404 (its existence is not revealed); a
member without the needed role gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Membership, Role
from projects.models import Project

ALL_ROLES: tuple[Role, ...] = (Role.PI, Role.ANNOTATOR, Role.REVIEWER)
LABELERS: tuple[Role, ...] = (Role.PI, Role.ANNOTATOR)
REVIEWERS: tuple[Role, ...] = (Role.PI, Role.REVIEWER)
PI_ONLY: tuple[Role, ...] = (Role.PI,)

User = AbstractBaseUser | AnonymousUser


def visible_projects(user: User) -> QuerySet[Project]:
    """Projects the user may see (all live ones for staff)."""
    live = Project.objects.filter(deleted_at__isnull=True)
    if not user.is_authenticated:
        return live.none()
    if user.is_staff:
        return live
    return live.filter(memberships__user=user).distinct()


def role_in(user: User, project: Project | int) -> Role | None:
    """The user's role in the project; staff count as PI; None for outsiders."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.PI
    project_id = project if isinstance(project, int) else project.pk
    role = (
        Membership.objects.filter(user=user, project_id=project_id)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def get_project_for(user: User, project_id: int, roles: Iterable[Role] = ALL_ROLES) -> Project:
    """Fetch a project the user belongs to with one of `roles`; 404 outsiders, 403 others.

    One query (membership joined with its live project; staff: the project), as every API
    request of the labeling loop starts here."""
    if not user.is_authenticated:
        raise Http404("No such project.")
    if user.is_staff:
        project = Project.objects.filter(pk=project_id, deleted_at__isnull=True).first()
        role: Role | None = Role.PI
    else:
        membership = (Membership.objects.select_related("project")
                      .filter(user=user, project_id=project_id, project__deleted_at__isnull=True)
                      .first())
        project = membership.project if membership else None
        role = Role(membership.role) if membership else None
    if project is None or role is None:
        raise Http404("No such project.")
    if role not in tuple(roles):
        raise PermissionDenied("Your role in this project does not allow this.")
    project.current_role = role  # type: ignore[attr-defined]
    return project


def has_role(user: User, project: Project | int, roles: Iterable[Role]) -> bool:
    """True if the user holds one of `roles` in the project."""
    role = role_in(user, project)
    return role is not None and role in tuple(roles)

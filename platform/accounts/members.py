"""Adding people to projects: direct membership by a PI, or invitation links."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Invitation, Membership, Role
from projects.models import Project


def set_member(project: Project, username: str, role: Role) -> Membership:
    """Add an existing user to the project, or change their role."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": f"No user named {username!r}."})
    membership, _ = Membership.objects.update_or_create(
        user=user, project=project, defaults={"role": role}
    )
    return membership


def remove_member(membership: Membership) -> None:
    """Remove someone from a project; the last PI cannot be removed."""
    with transaction.atomic():
        pis = Membership.objects.select_for_update().filter(
            project_id=membership.project_id, role=Role.PI
        )
        if membership.role == Role.PI and pis.count() <= 1:
            raise ValidationError({"detail": "A project keeps at least one PI."})
        membership.delete()


def invite(
    project: Project, role: Role, created_by: AbstractBaseUser, email: str = ""
) -> Invitation:
    """Create an invitation link for a role."""
    return Invitation.objects.create(project=project, role=role, email=email, created_by=created_by)


def accept_invitation(token: str, user: AbstractBaseUser) -> Membership:
    """Use an invitation: the user joins the project with the invited role (once)."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(token=token).first()
        if invitation is None or not invitation.is_usable:
            raise ValidationError({"detail": "This invitation is unknown, used or expired."})
        membership, created = Membership.objects.get_or_create(
            user=user, project=invitation.project, defaults={"role": invitation.role}
        )
        invitation.accepted_by = user
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at"])
    return membership

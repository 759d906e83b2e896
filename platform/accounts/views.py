"""Account pages: accepting an invitation (signing up if needed) and the API token."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from accounts.members import accept_invitation
from accounts.models import Invitation


def accept_invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    """Show the invitation; a logged-in user joins, a new user signs up and joins."""
    invitation = Invitation.objects.select_related("project").filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        return render(request, "accounts/invite_invalid.html", status=404)
    form = UserCreationForm(request.POST or None)
    if request.method == "POST":
        if request.user.is_authenticated:
            user = request.user
        elif form.is_valid():
            user = None
        else:
            return render(request, "accounts/invite.html", {"invitation": invitation, "form": form})
        try:
            with transaction.atomic():
                if user is None:
                    user = form.save()
                    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                membership = accept_invitation(token, user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("projects:list")
        messages.success(
            request, f"You joined {membership.project} as {membership.get_role_display()}."
        )
        return redirect("projects:detail", project_id=membership.project_id)
    return render(request, "accounts/invite.html", {"invitation": invitation, "form": form})


@login_required
def token_view(request: HttpRequest) -> HttpResponse:
    """Show (or rotate) the user's API token."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        messages.success(request, "A new API token was made; the old one no longer works.")
        return redirect("accounts:token")
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(request, "accounts/token.html", {"token": token.key})

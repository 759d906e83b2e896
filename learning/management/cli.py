"""Helpers shared by the learning app's management commands."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError, OutputWrapper


def optional_user(username: str | None) -> AbstractBaseUser | None:
    """The user named by a `--pi` style option, None without one; CommandError if unknown."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


def progress_printer(stdout: OutputWrapper) -> Callable[[float, str], None]:
    """A progress callback that prints `  42% message` lines."""

    def progress(fraction: float, message: str) -> None:
        stdout.write(f"  {fraction:4.0%} {message}")

    return progress

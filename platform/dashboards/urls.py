"""Dashboard pages under /projects/<project_id>/."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

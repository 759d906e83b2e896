"""API routes under /api/projects/<project_id>/ (filled in by this app's API views)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

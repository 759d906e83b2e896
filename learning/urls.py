"""Page routes under /projects/<project_id>/ (filled in by this app's pages)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

"""Top-level routes: pages, the API under /api/, the admin."""

from django.contrib import admin
from django.urls import include, path

from poseloop import health

urlpatterns = [
    path("", include("projects.urls")),
    path("accounts/", include("accounts.urls")),
    path("projects/<int:project_id>/", include("annotation.urls")),
    path("projects/<int:project_id>/", include("learning.urls")),
    path("projects/<int:project_id>/", include("dashboards.urls")),
    path("projects/<int:project_id>/", include("cameras.urls")),
    path("zoo/", include("learning.zoo.urls")),
    path("api/", include(("poseloop.api_urls", "api"), namespace="api")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
]

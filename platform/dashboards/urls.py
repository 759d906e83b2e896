"""Dashboard pages under /projects/<project_id>/."""

from django.urls import path

from dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
]

from django.urls import path

from projects import views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("projects/new/", views.project_create, name="create"),
    path("projects/<int:project_id>/", views.project_detail, name="detail"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="settings"),
    path("projects/<int:project_id>/members/", views.project_members, name="members"),
    path("projects/<int:project_id>/videos/upload/", views.video_upload, name="upload"),
    path(
        "projects/<int:project_id>/videos/<int:video_id>/extract/",
        views.video_extract,
        name="extract",
    ),
]

"""Page routes under /projects/<project_id>/: the models and analysis pages and their actions."""

from django.urls import path

from learning import views, views_analysis

app_name = "learning"

urlpatterns = [
    path("models/", views.models_page, name="models"),
    path("models/train/", views.train_action, name="train"),
    path("models/<int:version_id>/", views.version_page, name="version"),
    path("models/<int:version_id>/cancel/", views.cancel_action, name="cancel"),
    path("models/<int:version_id>/distill/", views.distill_action, name="distill"),
    path("models/<int:version_id>/activate/", views.activate_action, name="activate"),
    path("analysis/", views_analysis.analysis_page, name="analysis"),
    path("analysis/videos/<int:video_id>/", views_analysis.analyze_action, name="analyze"),
    path("analysis/dataset/", views_analysis.dataset_export_action, name="dataset-export"),
    path("analysis/videos/<int:video_id>/analyses/<int:analysis_id>/swap-tracks/",
         views_analysis.swap_tracks_action, name="swap-tracks"),
]

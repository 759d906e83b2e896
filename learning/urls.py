"""Page routes under /projects/<project_id>/: the models page and its actions."""

from django.urls import path

from learning import views

app_name = "learning"

urlpatterns = [
    path("models/", views.models_page, name="models"),
    path("models/train/", views.train_action, name="train"),
    path("models/<int:version_id>/", views.version_page, name="version"),
    path("models/<int:version_id>/cancel/", views.cancel_action, name="cancel"),
    path("models/<int:version_id>/activate/", views.activate_action, name="activate"),
]

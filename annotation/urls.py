"""Page routes under /projects/<project_id>/: the labeling and review workspaces."""

from django.urls import path

from annotation import views

app_name = "annotation"

urlpatterns = [
    path("label/", views.label_page, name="label"),
    path("review/", views.review_page, name="review"),
]

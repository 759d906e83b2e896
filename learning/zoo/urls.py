"""Page routes under /zoo/."""

from django.urls import path

from learning.zoo import views

app_name = "zoo"

urlpatterns = [
    path("", views.zoo_page, name="list"),
    path("import/", views.import_action, name="import"),
    path("publish/", views.publish_action, name="publish"),
    path("<int:zoo_id>/", views.entry_page, name="entry"),
    path("<int:zoo_id>/adopt/", views.adopt_action, name="adopt"),
    path("<int:zoo_id>/start-project/", views.start_project_action, name="start-project"),
    path("<int:zoo_id>/analyse/", views.analyse_action, name="analyse"),
    path("<int:zoo_id>/delete/", views.delete_action, name="delete"),
]

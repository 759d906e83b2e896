"""API routes under /api/zoo/."""

from django.urls import path

from learning.zoo import api

urlpatterns = [
    path("", api.ZooListApi.as_view(), name="zoo"),
    path("<int:zoo_id>/", api.ZooDetailApi.as_view(), name="zoo-entry"),
    path("<int:zoo_id>/bundle/", api.ZooBundleApi.as_view(), name="zoo-bundle"),
    path("<int:zoo_id>/start-project/", api.ZooStartProjectApi.as_view(),
         name="zoo-start-project"),
    path("<int:zoo_id>/analyse/", api.ZooAnalyseApi.as_view(), name="zoo-analyse"),
]

"""Every PoseLoop model has a Django admin page, and staff can open each changelist."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

OURS = {"accounts", "projects", "videos", "jobs", "annotation", "learning", "dashboards"}


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OURS]


def test_every_model_is_registered():
    assert [m.__name__ for m in our_models() if m not in admin.site._registry] == []


@pytest.mark.django_db
def test_staff_can_open_every_changelist(users, client):
    users["staff"].is_superuser = True
    users["staff"].save()
    client.force_login(users["staff"])
    for model in our_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url

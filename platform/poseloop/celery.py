"""The Celery application (run with platform/ on PYTHONPATH: `celery -A poseloop worker`)."""

import os

from celery import Celery

from poseloop.paths import add_project_paths

add_project_paths()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poseloop.settings")

app = Celery("poseloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

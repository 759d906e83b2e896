"""The PoseLoop Django project: settings, URLs, the Celery app."""

from poseloop.celery import app as celery_app

__all__ = ["celery_app"]

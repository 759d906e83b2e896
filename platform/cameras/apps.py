from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "cameras"
    verbose_name = "Camera rigs and multi-camera sessions"

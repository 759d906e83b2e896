from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "cameras"
    verbose_name = "Camera rigs and multi-camera sessions"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from cameras import selection
        from learning.models import CurrentModel

        # A new current model also scores calibrated sessions by 3D consistency (the learning
        # app, which scores single views, knows nothing of cameras).
        post_save.connect(selection.on_current_model_saved, sender=CurrentModel,
                          dispatch_uid="cameras.score_views_3d_after_promotion")

from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "learning"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from annotation.signals import labels_changed
        from learning.models import CurrentModel
        from learning.selection import scoring
        from learning.training import triggers
        from projects.models import Project
        from videos.signals import video_added

        labels_changed.connect(triggers.on_labels_changed, dispatch_uid="learning.retrain")
        post_save.connect(triggers.on_project_saved, sender=Project,
                          dispatch_uid="learning.schedule_sync")
        post_delete.connect(triggers.on_project_deleted, sender=Project,
                            dispatch_uid="learning.schedule_delete")
        # A new current model (promotion or rollback) scores frames and refills the queue.
        post_save.connect(scoring.on_current_model_saved, sender=CurrentModel,
                          dispatch_uid="learning.score_after_promotion")
        # A new video of a project that has a model: its frames are scored and queued too.
        video_added.connect(scoring.on_video_added, dispatch_uid="learning.score_new_video")

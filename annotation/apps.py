from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"

    def ready(self) -> None:
        from annotation.signals import enqueue_new_frames
        from videos.signals import frames_added

        frames_added.connect(enqueue_new_frames, dispatch_uid="annotation.enqueue_new_frames")

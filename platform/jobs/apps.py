from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from jobs.worker import start_heartbeats

        worker_ready.connect(start_heartbeats, dispatch_uid="jobs.worker.start_heartbeats")

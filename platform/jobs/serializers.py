from rest_framework import serializers

from jobs.models import Job
from jobs.stuck import StuckCheck


class JobSerializer(serializers.ModelSerializer):
    """A job with its times and, while no worker takes it, `stuck` and `stuck_reason`."""

    stuck = serializers.SerializerMethodField()
    stuck_reason = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "message",
            "error",
            "params",
            "result",
            "cancel_requested",
            "created_at",
            "dispatched_at",
            "started_at",
            "finished_at",
            "stuck",
            "stuck_reason",
        ]

    def _check(self) -> StuckCheck:
        # One check per response (it reads the heartbeats once): the list view passes one in
        # the context; otherwise the first job's field makes it and the context keeps it.
        return self.context.setdefault("stuck", StuckCheck())

    def get_stuck(self, job: Job) -> bool:
        return self._check().is_stuck(job)

    def get_stuck_reason(self, job: Job) -> str | None:
        return self._check().reason(job)

from rest_framework import serializers

from jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
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
            "started_at",
            "finished_at",
        ]

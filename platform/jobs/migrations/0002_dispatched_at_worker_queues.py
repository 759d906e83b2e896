"""Job.dispatched_at (stuck jobs, retry) and WorkerHeartbeat.queues (who consumes what)."""

from django.db import migrations, models
from django.db.models import F


def existing_jobs_were_dispatched(apps, schema_editor):
    # Jobs made before this field were sent when created; only new ones can say "never sent".
    apps.get_model("jobs", "Job").objects.update(dispatched_at=F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="dispatched_at",
            field=models.DateTimeField(
                blank=True, help_text="When its task was last handed to the broker", null=True
            ),
        ),
        migrations.AddField(
            model_name="workerheartbeat",
            name="queues",
            field=models.JSONField(blank=True, default=list, help_text="[] when unknown"),
        ),
        migrations.RunPython(existing_jobs_were_dispatched, migrations.RunPython.noop),
    ]

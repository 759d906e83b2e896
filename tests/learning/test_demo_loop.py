"""The demo's oracle loop: labels at the head of the queue → retrain trigger → a model."""

import pytest
from django.core.management import call_command

from annotation.models import Label
from learning.models import ModelVersion, VersionStatus


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_loop_labels_and_trains(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo", frames=8, video_frames=40)
    call_command("demo_loop", rounds=1, labels_per_round=6, minutes=0.05)
    assert Label.objects.filter(annotator__username="annotator").count() == 6
    version = ModelVersion.objects.get()
    assert version.status == VersionStatus.READY
    assert version.metrics["test_rmse_px"] is not None

"""`bench train`: the checkable interface of the training benchmark."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from learning.engine.checkpoint import load_model


@pytest.mark.slow
@pytest.mark.django_db
def test_bench_train_prints_the_figures_last_and_can_save_the_model(project, labeled_frames,
                                                                    tmp_path):
    labeled_frames(project, 12, stride=2)
    out = io.StringIO()
    path = tmp_path / "model.pt"
    call_command("bench", "train", "--project", project.name, "--minutes", "0.05",
                 "--epochs", "2", "--save", str(path), stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    for key in ("test_rmse_px", "train_rmse_px", "n_train", "n_test", "images_per_s",
                "data_share"):
        assert key in result
    assert result["n_train"] + result["n_test"] == 12 and result["epochs"] <= 2
    model, cfg = load_model(str(path))
    assert cfg.num_keypoints == 4 and model is not None

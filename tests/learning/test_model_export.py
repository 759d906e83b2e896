"""Model bundles: contents, metadata, exported graphs agree with PyTorch, PI-only API."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from learning.engine.checkpoint import save_checkpoint
from learning.engine.export import OnnxRunner, TorchScriptRunner
from learning.engine.predict import predict_images
from learning.exchange.model_export import META_NAME, ONNX_NAME, TORCHSCRIPT_NAME, export_bundle
from learning.training.registry import clear_cache
from tests.learning.engine.test_export import _poses, tiny_model
from tests.learning.helpers import make_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def version(project):
    """A ready version holding a small network with clear heatmap peaks."""
    version = make_version(project, checkpoint=False)
    model, cfg = tiny_model(k=4, scale=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        save_checkpoint(path, model, cfg, project.bodypart_names())
        with open(path, "rb") as fh:
            version.checkpoint.save("model.pt", File(fh))
    version.model_config = cfg.to_dict()
    version.save()
    return version


def test_bundle_holds_graphs_metadata_and_readme(version, tmp_path):
    name = export_bundle(version)
    with default_storage.open(name, "rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as zf:
        assert set(zf.namelist()) == {META_NAME, "README.md", ONNX_NAME, TORCHSCRIPT_NAME}
        meta = json.loads(zf.read(META_NAME))
        zf.extractall(tmp_path)
    assert meta["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    assert ["snout", "leftear"] in meta["skeleton"]
    assert meta["input"]["input_scale"] == 0.5 and meta["input"]["channels"] == "RGB"
    assert meta["input"]["normalisation"]["mean"] == [0.485, 0.456, 0.406]
    assert meta["decoding"]["heatmap_stride"] == 4
    assert export_bundle(version) == name  # built once, then reused


@pytest.mark.compute
def test_bundle_graphs_match_pytorch_within_half_a_pixel(version, tmp_path):
    from learning.training.registry import loaded_model

    name = export_bundle(version)
    with default_storage.open(name, "rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as zf:
        zf.extractall(tmp_path)
    model, cfg = loaded_model(version)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    reference = predict_images(model, cfg, images)
    for runner in (OnnxRunner(str(tmp_path / ONNX_NAME), threads=1),
                   TorchScriptRunner(str(tmp_path / TORCHSCRIPT_NAME))):
        got = _poses(runner, cfg, images)
        assert np.abs(got[..., :2] - reference[..., :2]).max() <= 0.5, runner.name


@pytest.mark.parametrize(("role", "expected"), [
    ("outsider", 404), ("annotator", 403), ("reviewer", 403), ("pi", 200),
])
def test_export_api_is_pi_only(project, users, version, as_user, role, expected):
    response = as_user(role).post(f"/api/projects/{project.pk}/models/{version.pk}/export/")
    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "application/zip"
        assert zipfile.is_zipfile(io.BytesIO(b"".join(response.streaming_content)))


def test_export_command_prints_the_zip(project, version, capsys):
    from django.core.management import call_command

    call_command("export_model", project=project.name, version=version.iteration)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert Path(last).is_file() and last.endswith(".zip")

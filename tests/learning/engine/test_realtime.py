"""Real-time single frames through an exported bundle (zip or folder)."""

import json
import zipfile

import cv2
import numpy as np
import pytest
import torch

from learning.engine.config import ModelConfig
from learning.engine.export import export_onnx
from learning.engine.network import PoseNet
from learning.engine.predict import predict_images
from learning.engine.realtime import RealtimePose, latency_ms, read_bundle
from videos.synthetic import write_images

CFG = ModelConfig(num_keypoints=4, backbone="mobilenet_v3_small", head_channels=16,
                  pretrained=None, input_scale=0.5, animal_radius_px=30.0)


@pytest.fixture
def bundle(tmp_path):
    """A trained-looking network (seeded weights) as a bundle folder and as a zip."""
    torch.manual_seed(0)
    model = PoseNet(CFG).eval()
    folder = tmp_path / "bundle"
    folder.mkdir()
    export_onnx(model, CFG, str(folder / "model.onnx"))
    meta = {"bodyparts": ["snout", "leftear", "rightear", "tailbase"],
            "model_config": CFG.to_dict()}
    (folder / "poseloop_model.json").write_text(json.dumps(meta))
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as zf:
        for name in ("model.onnx", "poseloop_model.json"):
            zf.write(folder / name, arcname=name)
    return model, folder, tmp_path / "bundle.zip"


def test_single_frames_give_the_batched_predictions(bundle, tmp_path):
    model, folder, _ = bundle
    images = write_images(tmp_path / "img", 3, seed=3)
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in images.paths]
    expected = predict_images(model, CFG, frames, batch_size=3)
    pose = RealtimePose(folder)
    assert pose.bodyparts == ["snout", "leftear", "rightear", "tailbase"]
    for frame, want in zip(frames, expected, strict=True):
        got = pose(frame)
        assert got.shape == (4, 3)
        np.testing.assert_allclose(got, want, atol=1e-3)
    bgr = cv2.imread(str(images.paths[0]))
    np.testing.assert_allclose(pose(bgr, bgr=True), expected[0], atol=1e-3)


def test_a_zip_bundle_and_frames_of_another_size(bundle, tmp_path):
    model, _, zipped = bundle
    onnx, meta = read_bundle(zipped)
    assert onnx[:4] != b"" and meta["model_config"]["backbone"] == "mobilenet_v3_small"
    pose = RealtimePose(zipped, threads=1)
    for size in ((120, 160), (96, 200), (120, 160)):  # the input buffer follows the size
        frame = np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)
        np.testing.assert_allclose(pose(frame), predict_images(model, CFG, [frame])[0],
                                   atol=1e-3)


def test_latency_figures(bundle):
    _, folder, _ = bundle
    frames = [np.zeros((120, 160, 3), np.uint8)] * 5
    figures = latency_ms(RealtimePose(folder), frames, warmup=1)
    assert figures["frames"] == 5
    assert 0 < figures["p50"] <= figures["p99"] <= figures["max"]
    with pytest.raises(ValueError):
        latency_ms(RealtimePose(folder), [])

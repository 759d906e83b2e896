"""int8 ONNX: which nodes are quantised, and the int8 graph stays close to float32."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from learning.engine.export import OnnxRunner, export_onnx
from learning.engine.quantize import BACKBONE_PREFIX, quantizable_nodes, quantize_onnx_int8
from tests.learning.engine.test_export import tiny_model


@pytest.fixture(scope="module")
def float_onnx(tmp_path_factory):
    model, cfg = tiny_model(k=3, scale=1.0)
    path = str(tmp_path_factory.mktemp("int8") / "model.onnx")
    return export_onnx(model, cfg, path, example_hw=(64, 96)), cfg


def _frames(n: int, seed: int) -> np.ndarray:
    """Smooth random images (blobs on a gradient), more like video than white noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:96]
    out = np.zeros((n, 64, 96, 3), np.uint8)
    for i in range(n):
        cx, cy = rng.uniform(10, 86), rng.uniform(10, 54)
        blob = 200 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 60.0)
        out[i] = np.clip(blob + xx * 0.4 + rng.normal(0, 3, (64, 96)), 0, 255)[..., None]
    return out


def test_backbone_scope_quantises_only_backbone_nodes(float_onnx):
    path, _ = float_onnx
    names = quantizable_nodes(path, "backbone")
    assert names and all(n.startswith(BACKBONE_PREFIX) for n in names)
    convs = quantizable_nodes(path, "all")
    assert any(not n.startswith(BACKBONE_PREFIX) for n in convs)  # the head's convolutions
    with pytest.raises(ValueError, match="scope"):
        quantizable_nodes(path, "head")  # type: ignore[arg-type]


def test_int8_backbone_graph_is_quantised_and_close_to_float(float_onnx, tmp_path):
    path, _ = float_onnx
    out = quantize_onnx_int8(path, str(tmp_path / "int8.onnx"), [_frames(8, 0)])
    graph = onnx.load(out).graph
    ops = Counter(n.op_type for n in graph.node)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0
    # The head stays float32: its output convolutions read dequantised (float) tensors only.
    heatmap_conv = next(n for n in graph.node if n.name.endswith("/heatmap/Conv"))
    weight = next(i for i in graph.initializer if i.name == heatmap_conv.input[1])
    assert weight.data_type == onnx.TensorProto.FLOAT
    frames = _frames(4, 1)  # not the calibration frames
    ref, _ = OnnxRunner(path, threads=1)(frames)
    got, _ = OnnxRunner(out, threads=1)(frames)
    err = np.abs(got.numpy() - ref.numpy())
    # int8 changes the numbers (it did quantise) but only a little (here ~3e-4 mean, 4e-3 max).
    assert got.shape == ref.shape and 0 < err.max() < 0.05 and err.mean() < 0.005


def test_int8_needs_calibration_frames(float_onnx, tmp_path):
    path, _ = float_onnx
    with pytest.raises(ValueError, match="calibration"):
        quantize_onnx_int8(path, str(tmp_path / "x.onnx"), [])
    assert not (tmp_path / "x.onnx").exists()


def test_video_calibration_takes_the_same_spread_frames(tmp_path):
    from learning.engine.config import ModelConfig
    from learning.engine.quantize import video_calibration
    from tests.videofactory import make_video

    clip = make_video(tmp_path, n_frames=40)
    cfg = ModelConfig(num_keypoints=4, input_scale=0.5, pretrained=None)
    picked = video_calibration(str(clip.path), cfg, span=32, count=8)
    frames = np.concatenate(picked)
    assert frames.shape == (8, 64, 96, 3) and frames.dtype == np.uint8  # 0, 4, ..., 28
    again = np.concatenate(video_calibration(str(clip.path), cfg, span=32, count=8))
    np.testing.assert_array_equal(frames, again)
    # a video shorter than the span: what there is (frames 0, 16, 32 of 40)
    assert len(np.concatenate(video_calibration(str(clip.path), cfg, span=1024, count=64))) == 3

"""int8 ONNX models for faster CPU analysis (opt-in: keypoints move by up to a few pixels).

ONNX Runtime's static quantisation (QDQ format, per-channel int8 weights, uint8 activations
with ranges calibrated on real frames). By default only the backbone is quantised: the head,
which places the peaks and the sub-pixel offsets, stays float32. On CPUs without VNNI (AVX2
only) the activations use a reduced range, which avoids the saturation of the u8 x s8
multiply-add that otherwise costs accuracy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np

from learning.engine.config import ModelConfig
from learning.engine.export import INPUT_NAME
from learning.engine.video import iter_batches

Scope = Literal["backbone", "all"]
BACKBONE_PREFIX = "/model/backbone/"
CALIBRATION_FRAMES = 64
CALIBRATION_SPAN = 1024


def video_calibration(path: str, cfg: ModelConfig, span: int = CALIBRATION_SPAN,
                      count: int = CALIBRATION_FRAMES) -> list[np.ndarray]:
    """About `count` network-input frames (uint8 batches) spread over the first `span` frames
    of the video (fewer if it is shorter). Always the same frames for one video, so every chunk
    of a chunked analysis builds the same int8 model and chunked == one pass still holds."""
    step = max(1, span // count)
    picked: list[np.ndarray] = []
    batches = iter_batches(path, cfg.input_scale, batch_size=16)
    try:
        for batch in batches:
            rows = [i for i in range(len(batch.images))
                    if (batch.start + i) % step == 0 and batch.start + i < span]
            if rows:
                picked.append(batch.images[rows])
            if batch.start + len(batch.images) >= span:
                break
    finally:
        batches.close()  # stops the decoding thread
    return picked


def _float_batch(batch: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) -> float32 (B, 3, H, W) in [0, 1]: what the exported graph takes."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def quantizable_nodes(onnx_path: str, scope: Scope = "backbone") -> list[str]:
    """Names of the graph's nodes that `scope` quantises (all Conv nodes for "all")."""
    import onnx

    graph = onnx.load(onnx_path, load_external_data=False).graph
    if scope == "all":
        return [n.name for n in graph.node if n.op_type == "Conv"]
    if scope == "backbone":
        return [n.name for n in graph.node if n.name.startswith(BACKBONE_PREFIX)]
    raise ValueError(f"unknown scope {scope!r}")


def quantize_onnx_int8(src: str, dst: str, calibration: Iterable[np.ndarray],
                       scope: Scope = "backbone") -> str:
    """Write an int8 copy of the ONNX model `src` (from `export.export_onnx`) to `dst`.

    `calibration`: uint8 (B, H, W, 3) RGB batches at the network's input size, e.g. frames of
    the videos to analyse; a few dozen frames are enough. Raises ValueError without any.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [_float_batch(b) for b in calibration if len(b)]
    if not batches:
        raise ValueError("int8 calibration needs at least one frame")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    with tempfile.TemporaryDirectory(prefix="poseloop-int8-") as tmp, _quiet_root_logger():
        # Shape inference and graph clean-up first: the exporter's Identity nodes in front of
        # conv biases would otherwise keep those convolutions out of the int8 kernels.
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(src, prepared, skip_symbolic_shape=True)
        quantize_static(
            prepared, dst, Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_quantize=quantizable_nodes(prepared, scope),
        )
    return dst


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantiser logs a line per tensor on the root logger at INFO."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)

"""Real-time pose: single frames through an exported model bundle with low latency.

What DeepLabCut-Live does for DeepLabCut: an experiment's loop hands over each camera frame as it
arrives and gets the keypoints back before the next one. `RealtimePose` loads a bundle written
by `learning.exchange.model_export` (the zip, or its unpacked folder: `model.onnx` +
`poseloop_model.json`), keeps one ONNX Runtime session and reuses one padded input buffer, so
a frame costs one resize, one network pass and one decode. No Django, no PyTorch model code:
the decode is the engine's, so the keypoints equal `analyze_video`'s on the same frame.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from learning.engine.config import ModelConfig
from learning.engine.data import SIZE_MULTIPLE, resize_for_network, round_up
from learning.engine.export import INPUT_NAME
from learning.engine.video import decode_outputs

ONNX_NAME = "model.onnx"
META_NAME = "poseloop_model.json"


def read_bundle(path: str | Path) -> tuple[bytes, dict[str, Any]]:
    """(ONNX model bytes, bundle metadata) from a bundle zip or its unpacked folder."""
    path = Path(path)
    if path.is_dir():
        return (path / ONNX_NAME).read_bytes(), json.loads((path / META_NAME).read_text())
    with zipfile.ZipFile(path) as bundle:
        return bundle.read(ONNX_NAME), json.loads(bundle.read(META_NAME))


class RealtimePose:
    """Keypoints of one frame at a time from an exported bundle (ONNX Runtime, CPU).

    `threads`: ONNX Runtime intra-op threads (1 keeps the tail latency low on a busy machine).
    Call with a uint8 frame (H, W, 3), RGB (or BGR with `bgr=True`, as OpenCV cameras give);
    returns float32 (K, 3): x, y in the frame's pixels and the likelihood.
    """

    def __init__(self, bundle: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        model_bytes, meta = read_bundle(bundle)
        self.meta = meta
        self.bodyparts: list[str] = list(meta["bodyparts"])
        self.cfg = ModelConfig.from_dict({**meta["model_config"], "pretrained": None})
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(model_bytes, options,
                                            providers=["CPUExecutionProvider"])
        self._buffer: np.ndarray | None = None

    def _input(self, small: np.ndarray) -> np.ndarray:
        """float32 (1, 3, H, W) in [0, 1], zero-padded to multiples of 32; one buffer reused
        while the frame size stays the same."""
        height, width = round_up(small.shape[0], SIZE_MULTIPLE), round_up(small.shape[1])
        if self._buffer is None or self._buffer.shape[2:] != (height, width):
            self._buffer = np.zeros((1, 3, height, width), dtype=np.float32)
        np.multiply(small.transpose(2, 0, 1), 1 / 255,
                    out=self._buffer[0, :, : small.shape[0], : small.shape[1]], casting="unsafe")
        return self._buffer

    def __call__(self, frame: np.ndarray, bgr: bool = False) -> np.ndarray:
        small, scale = resize_for_network(frame, self.cfg.input_scale)
        if bgr:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        outputs = self.session.run(None, {INPUT_NAME: self._input(small)})
        locref = torch.from_numpy(outputs[1]) if len(outputs) > 1 else None
        return decode_outputs(self.cfg, torch.from_numpy(outputs[0]), locref, scale[None])[0]


def latency_ms(pose: RealtimePose, frames: Iterable[np.ndarray], warmup: int = 10,
               bgr: bool = False) -> dict[str, float]:
    """Milliseconds per single frame (frame in, keypoints out): p50, p99, mean and max over
    `frames` after `warmup` untimed calls on the first frame."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to time")
    for _ in range(warmup):
        pose(frames[0], bgr)
    times = []
    for frame in frames:
        start = time.perf_counter()
        pose(frame, bgr)
        times.append((time.perf_counter() - start) * 1000)
    values = np.asarray(times)
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)),
            "mean": float(values.mean()), "max": float(values.max()), "frames": len(values)}

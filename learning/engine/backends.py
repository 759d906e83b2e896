"""The runner whole-video analysis uses on this machine, for any engine model.

One choice for the platform's analysis, the teacher's pseudo-labelling and the benchmarks, so
that a benchmark times what users run: `export.gpu_runner` where CUDA is present; on the CPU,
ONNX Runtime (same keypoints within 0.0001 px as eager PyTorch, 1.6x its frames per second on
openfield), optionally with an int8 backbone, and eager channels-last PyTorch when the export
or onnxruntime fails.
"""

from __future__ import annotations

import logging
import os
import tempfile

import torch

from learning.engine.config import ModelConfig
from learning.engine.export import OnnxRunner, Runner, TorchRunner, export_onnx, gpu_runner
from learning.engine.network import PoseNet
from learning.engine.quantize import quantize_onnx_int8, video_calibration

logger = logging.getLogger(__name__)


def analysis_runner(model: PoseNet, cfg: ModelConfig, *, threads: int | None = None,
                    int8_video: str | None = None, name: str = "model") -> Runner:
    """The analysis runner for `model`.

    threads: ONNX Runtime's intra-op threads (default PyTorch's). int8_video (CPU only): an
    int8 backbone calibrated on frames of that video (`quantize`; ~1.4x faster, same test
    error on openfield, but a point the model is unsure of can land elsewhere); float32 ONNX
    Runtime if quantisation fails. The ONNX file is loaded into memory and not kept. name: the
    model's name in the log when a fallback is taken.
    """
    if torch.cuda.is_available():
        return gpu_runner(model)
    threads = threads or torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="poseloop-onnx-") as tmp:
            path = export_onnx(model, cfg, os.path.join(tmp, "model.onnx"))
            if int8_video is not None:
                try:
                    int8 = quantize_onnx_int8(path, os.path.join(tmp, "int8.onnx"),
                                              video_calibration(int8_video, cfg))
                    return OnnxRunner(int8, threads=threads)
                except Exception:  # noqa: BLE001 - fall back to float32
                    logger.exception("int8 quantisation failed for %s; using float32", name)
            return OnnxRunner(path, threads=threads)
    except Exception:  # noqa: BLE001 - any failure here only costs speed
        logger.exception("ONNX Runtime unavailable for %s; using PyTorch", name)
        return TorchRunner(model, channels_last=True)

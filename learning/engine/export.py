"""Exported inference graphs (TorchScript, ONNX) and the runners that execute any backend.

Every backend is wrapped as a `Runner`: uint8 RGB batches (B, H, W, 3), H and W multiples of
32, in; heatmap probabilities float32 (B, K, h, w) and locref offsets (B, K, 2, h, w) (or None)
out, both as torch tensors on the CPU. Decoding to keypoints is shared (`learning.engine.video`),
so backends differ only in how the network runs.

The exported graphs take float32 images (B, 3, H, W) RGB in [0, 1]; the ImageNet normalisation
and the sigmoid are inside the graph. Batch, height and width are dynamic.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from learning.engine.config import ModelConfig
from learning.engine.network import PoseNet

ONNX_OPSET = 17
INPUT_NAME = "images"
Outputs = tuple[torch.Tensor, torch.Tensor | None]


class Runner(Protocol):
    """A backend: uint8 (B, H, W, 3) RGB numpy batch -> (heatmaps, locref or None)."""

    name: str

    def __call__(self, batch: np.ndarray) -> Outputs: ...


class InferenceGraph(nn.Module):
    """PoseNet plus the sigmoid: float images (B, 3, H, W) in [0, 1] ->
    heatmaps (B, K, h, w) probabilities and, with locref, offsets (B, K, 2, h, w)."""

    def __init__(self, model: PoseNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        heat_logits, locref = self.model(images)
        heatmaps = torch.sigmoid(heat_logits)
        return (heatmaps,) if locref is None else (heatmaps, locref)


def output_names(cfg: ModelConfig) -> list[str]:
    """Names of the exported graph's outputs, in order."""
    return ["heatmaps", "locref"] if cfg.locref else ["heatmaps"]


def _example(cfg: ModelConfig, height: int, width: int) -> torch.Tensor:
    return torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(0))


def _replace_atomically(write: Callable[[str], None], path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export_torchscript(
    model: PoseNet, cfg: ModelConfig, path: str, example_hw: tuple[int, int] = (256, 320)
) -> str:
    """Trace the inference graph to TorchScript at `path` (written atomically).

    The network has no data-dependent control flow, so the trace holds for any batch and any
    H, W that are multiples of 32.
    """
    graph = InferenceGraph(model.cpu().eval()).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic in the head
        traced = torch.jit.trace(graph, _example(cfg, *example_hw), check_trace=False)
        traced = torch.jit.freeze(traced)
    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, still used
            torch.jit.save(traced, tmp)

    _replace_atomically(write, path)
    return path


def export_onnx(
    model: PoseNet, cfg: ModelConfig, path: str, example_hw: tuple[int, int] = (256, 320)
) -> str:
    """Export the inference graph to ONNX (opset 17, dynamic batch/height/width), atomically."""
    graph = InferenceGraph(model.cpu().eval()).eval()
    names = output_names(cfg)
    dynamic: dict[str, dict[int, str]] = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    dynamic["heatmaps"] = {0: "batch", 2: "map_height", 3: "map_width"}
    if cfg.locref:
        dynamic["locref"] = {0: "batch", 3: "map_height", 4: "map_width"}

    def write(tmp: str) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter is deprecated, still exact
            torch.onnx.export(
                graph, (_example(cfg, *example_hw),), tmp, dynamo=False,
                input_names=[INPUT_NAME], output_names=names, dynamic_axes=dynamic,
                opset_version=ONNX_OPSET, do_constant_folding=True,
            )

    _replace_atomically(write, path)
    return path


def _to_float(batch: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float32 (B, 3, H, W) in [0, 1], channels-last strides."""
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().div_(255)


class _Bf16Backbone(nn.Module):
    """Runs the backbone under bf16 autocast and hands float32 features to the head."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.inner = backbone

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            features = self.inner(x)
        return [f.float() for f in features]


class TorchRunner:
    """PyTorch eager; optionally channels-last memory format and bf16.

    `bf16`: False (float32), True (autocast over the whole network) or "backbone" (autocast over
    the backbone only; the head, which places the peaks, stays float32).

    `pad_batches` (default: on CUDA): a batch smaller than the largest one seen of its image
    size (a video's last batch) is padded with blank frames to that size and the padding's
    outputs dropped, so every batch of a video has one shape and cuDNN does not plan its kernels
    again for the last one.
    The network runs in eval mode, so the real frames' outputs do not depend on the padding.
    """

    def __init__(
        self, model: PoseNet, *, channels_last: bool = False, bf16: bool | str = False,
        device: str | torch.device = "cpu", pad_batches: bool | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.pad_batches = self.device.type == "cuda" if pad_batches is None else pad_batches
        self._rows: dict[tuple[int, ...], int] = {}  # the largest batch seen per image size
        self.channels_last = channels_last
        self.bf16 = bf16 is True
        if channels_last or bf16 == "backbone":
            model = copy.deepcopy(model)  # the caller's (maybe cached, shared) model stays as is
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        if bf16 == "backbone":
            model.backbone = _Bf16Backbone(model.backbone)  # type: ignore[assignment]
        self.model = model.to(self.device).eval()
        suffix = {True: "-bf16", "backbone": "-bf16bb"}.get(bf16, "")  # type: ignore[call-overload]
        self.name = "torch" + ("-cl" if channels_last else "") + suffix

    def __call__(self, batch: np.ndarray) -> Outputs:
        rows = len(batch)
        if self.pad_batches:
            size = batch.shape[1:]
            self._rows[size] = most = max(self._rows.get(size, 0), rows)
            if rows < most:
                blank = np.zeros((most - rows, *size), dtype=batch.dtype)
                batch = np.concatenate([batch, blank])
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).float().div_(255)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        x = x.contiguous(memory_format=fmt)
        with torch.inference_mode(), torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.bf16
        ):
            heat_logits, locref = self.model(x)
            heatmaps = torch.sigmoid(heat_logits[:rows].float())
            locref = None if locref is None else locref[:rows].float()
        return heatmaps.cpu(), None if locref is None else locref.cpu()


class TorchScriptRunner:
    """A TorchScript file written by `export_torchscript`."""

    name = "torchscript"

    def __init__(self, path: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.module = torch.jit.load(path, map_location="cpu").eval()

    def __call__(self, batch: np.ndarray) -> Outputs:
        with torch.inference_mode():
            outputs = self.module(_to_float(batch).contiguous())
        return outputs[0], outputs[1] if len(outputs) > 1 else None


class OnnxRunner:
    """ONNX Runtime on the CPU with all graph optimisations and `threads` intra-op threads."""

    name = "onnxruntime"

    def __init__(self, path: str, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: np.ndarray) -> Outputs:
        x = _to_float(batch).contiguous().numpy()
        outputs: list[Any] = self.session.run(None, {INPUT_NAME: x})
        heatmaps = torch.from_numpy(outputs[0])
        return heatmaps, torch.from_numpy(outputs[1]) if len(outputs) > 1 else None


def default_runner(model: PoseNet) -> TorchRunner:
    """The analysis default: eager, channels-last (faster on CPU and GPU), on the model's device."""
    device = next(model.parameters()).device
    return TorchRunner(model, channels_last=True, device=device)


def gpu_runner(model: PoseNet) -> TorchRunner:
    """The analysis path on CUDA: channels-last, bf16 autocast over the backbone only (the head,
    which places the peaks, stays float32)."""
    return TorchRunner(model, channels_last=True, bf16="backbone", device="cuda")

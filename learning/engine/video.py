"""Video analysis: one thread decodes and resizes frames into batches while the caller's thread
runs the network on the previous batch, so decoding overlaps inference.

Frames are read by sequential decoding from the start of the file (``grab`` up to `start`,
then ``read``): seeking can land off by a frame or a GOP on some codecs, and a chunk that starts
at the wrong frame would silently shift every pose after it.

The pre-processing equals `learning.engine.predict.predict_batch` (same resize, same padding,
same decoding), so `analyze_video` on a video gives what `predict_images` gives on its frames.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from learning.engine.config import ModelConfig
from learning.engine.data import pad_to_multiple, resize_for_network, to_original_coords
from learning.engine.decode import Refine, decode
from learning.engine.export import Runner

Progress = Callable[[int, int | None], None]
_DONE = object()


class VideoReadError(RuntimeError):
    """The video cannot be opened, or it ended before the requested last frame."""


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive frames ready for the network.

    images: uint8 (B, H, W, 3) RGB resized by the model's input scale, zero-padded so H and W are
    multiples of 32; scales: float32 (B, 2) exact (sx, sy) of the resize; start: first frame index.
    """

    start: int
    images: np.ndarray
    scales: np.ndarray


def _decode_batches(
    path: str, start: int, stop: int | None, batch_size: int, scale: float
) -> Iterator[FrameBatch]:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(f"cannot open video {path}")
    try:
        for position in range(start):
            if not cap.grab():
                raise VideoReadError(f"{path} ended after {position} frames, before {start}")
        index = start
        while stop is None or index < stop:
            frames: list[np.ndarray] = []
            scales: list[np.ndarray] = []
            while len(frames) < batch_size and (stop is None or index < stop):
                ok, frame = cap.read()
                if not ok or frame is None:
                    if stop is not None:
                        raise VideoReadError(f"{path} ended after {index} frames, before {stop}")
                    break
                # Resize first, then BGR->RGB: both are per pixel/channel, so the order does not
                # change the values and the colour conversion touches 4x fewer pixels.
                small, sxy = resize_for_network(frame, scale)
                frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
                scales.append(sxy)
                index += 1
            if not frames:
                return
            yield FrameBatch(index - len(frames), pad_to_multiple(frames), np.stack(scales))
            if len(frames) < batch_size:
                return
    finally:
        cap.release()


def iter_batches(
    path: str | Path,
    scale: float,
    *,
    start: int = 0,
    stop: int | None = None,
    batch_size: int = 16,
    prefetch: int = 3,
) -> Iterator[FrameBatch]:
    """Batches of frames [start, stop) (to the end when stop is None), decoded in a thread.

    At most `prefetch` batches wait in memory. Raises VideoReadError if the file cannot be
    opened or ends before `stop`. Closing the iterator early stops the decoding thread.
    """
    if start < 0 or (stop is not None and stop < start) or batch_size < 1:
        raise ValueError(f"bad frame range [{start}, {stop}) or batch size {batch_size}")
    items: queue.Queue[object] = queue.Queue(maxsize=max(1, prefetch))
    halt = threading.Event()

    def put(item: object) -> None:
        while not halt.is_set():
            try:
                items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for batch in _decode_batches(str(path), start, stop, batch_size, scale):
                put(batch)
                if halt.is_set():
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=work, name="video-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, FrameBatch)
            yield item
    finally:
        halt.set()
        thread.join()


def decode_outputs(
    cfg: ModelConfig,
    heatmaps: torch.Tensor,
    locref: torch.Tensor | None,
    scales: np.ndarray,
    refine: Refine = "locref",
) -> np.ndarray:
    """Network outputs of one batch -> poses float32 (B, K, 3): x, y original pixels, likelihood."""
    xy, likelihood = decode(cfg, heatmaps, locref, refine)
    xy_orig = to_original_coords(xy.cpu().numpy(), scales[:, None, :])
    poses = np.concatenate([xy_orig, likelihood.cpu().numpy()[..., None]], axis=-1)
    return poses.astype(np.float32)


def analyze_video(
    path: str | Path,
    runner: Runner,
    cfg: ModelConfig,
    *,
    start: int = 0,
    stop: int | None = None,
    batch_size: int = 16,
    refine: Refine = "locref",
    progress: Progress | None = None,
    prefetch: int = 3,
    batch_poses: Callable[[FrameBatch], np.ndarray] | None = None,
) -> np.ndarray:
    """Poses float32 (N, K, 3) of frames [start, stop) of the video (to its end if stop is None).

    `batch_poses` replaces the whole-frame network pass on each batch (tracked windows use it).

    `progress(done, total)` is called after each batch (total is None when stop is None).
    Batches start at `start`, so two ranges split at a multiple of `batch_size` give exactly the
    batches (and results) of one pass over both.
    """
    total = None if stop is None else stop - start
    poses: list[np.ndarray] = []
    done = 0
    for batch in iter_batches(
        path, cfg.input_scale, start=start, stop=stop, batch_size=batch_size, prefetch=prefetch
    ):
        if batch_poses is not None:
            poses.append(batch_poses(batch))
        else:
            heatmaps, locref = runner(batch.images)
            poses.append(decode_outputs(cfg, heatmaps, locref, batch.scales, refine))
        done += len(batch.images)
        if progress is not None:
            progress(done, total)
    if not poses:
        return np.zeros((0, cfg.num_keypoints, 3), dtype=np.float32)
    return np.concatenate(poses)

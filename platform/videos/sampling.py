"""Which frames to label, and getting them out of a video frame-accurately.

Frames are always read by sequential decoding (``grab`` for skipped frames, ``retrieve`` for
wanted ones): seeking with ``CAP_PROP_POS_FRAMES`` can land a frame or a GOP off on some
codecs and containers, which would silently mislabel training data.

Every ``pick_*`` returns sorted, unique frame indices in ``[0, frame_count)``, none of them
in `exclude` (so a re-run adds new frames only), at most `n` and never more than exist.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

Progress = Callable[[int, int], None]
FrameSink = Callable[[int, np.ndarray], None]


class FrameReadError(RuntimeError):
    """The video cannot be opened, or ended before a requested frame."""


def frame_filename(index: int) -> str:
    """PNG name for frame `index`: ``img0000123.png`` (sorts by index up to 9,999,999)."""
    return f"img{index:07d}.png"


def _wanted(indices: Iterable[int] | None, step: int) -> Iterator[int]:
    """Validated increasing frame indices; unbounded when `indices` is None."""
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if indices is None:
        yield from range(0, sys.maxsize, step)
        return
    if step != 1:
        raise ValueError("give either indices or step, not both")
    previous = -1
    for index in indices:
        index = int(index)
        if index <= previous:
            raise ValueError(f"indices must be increasing and >= 0: {index} after {previous}")
        previous = index
        yield index


def iter_frames(
    path: str | Path, indices: Iterable[int] | None = None, step: int = 1
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index, frame (height, width, 3) uint8 BGR) by sequential decoding.

    `indices` must be strictly increasing; None means every `step`-th frame to the end.
    Raises FrameReadError if the video cannot be opened or ends before a listed index.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise FrameReadError(f"cannot open video {path}")
    try:
        position = 0  # index of the next frame grab() will decode
        for index in _wanted(indices, step):
            while position <= index:
                if not cap.grab():
                    if indices is None:
                        return
                    raise FrameReadError(f"{path} ended after {position} frames, before {index}")
                position += 1
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                raise FrameReadError(f"cannot decode frame {index} of {path}")
            yield index, frame
    finally:
        cap.release()


def _available(frame_count: int, n: int, exclude: Iterable[int]) -> np.ndarray:
    """(m,) int64 sorted frame indices not excluded."""
    if frame_count < 0 or n < 0:
        raise ValueError(f"frame_count and n must be >= 0, got {frame_count} and {n}")
    excluded = np.fromiter((int(i) for i in exclude), dtype=np.int64)
    return np.setdiff1d(np.arange(frame_count, dtype=np.int64), excluded)


def spread(available: np.ndarray, n: int, offset: float = 0.5) -> np.ndarray:
    """n entries of `available`, one in each of n equal bins at `offset` within it (0.5: the
    centres; another offset looks between those), all of it if n >= size."""
    if n >= available.size:
        return available
    positions = ((np.arange(max(n, 0)) + offset) * available.size / max(n, 1)).astype(np.int64)
    return available[np.minimum(positions, available.size - 1)]


def pick_uniform(frame_count: int, n: int, exclude: Iterable[int] = ()) -> list[int]:
    """n frames evenly spread over the frames not excluded (the centre of each 1/n bin)."""
    return spread(_available(frame_count, n, exclude), n).tolist()


def pick_random(frame_count: int, n: int, seed: int, exclude: Iterable[int] = ()) -> list[int]:
    """n frames drawn without replacement from the frames not excluded; seeded."""
    available = _available(frame_count, n, exclude)
    if n >= available.size:
        return available.tolist()
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(available, size=n, replace=False).tolist())


def consecutive_pairs(path: str | Path, n: int, seed: int, frame_count: int | None = None
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to n random pairs of consecutive frames (t, t + 1) of a video as uint8 RGB, no two
    pairs sharing a frame; seeded. Unlabeled material for the temporal-consistency loss
    (`engine.temporal`). FrameReadError if the video cannot be read at all."""
    if frame_count is None:
        cap = cv2.VideoCapture(str(path))
        frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
    starts = np.arange(0, max(0, frame_count - 1), 2)  # even starts: pairs never overlap
    if starts.size > n:
        starts = np.sort(np.random.default_rng(seed).choice(starts, size=n, replace=False))
    wanted = [int(i) for t in starts for i in (t, t + 1)]
    frames: list[np.ndarray] = []
    try:
        for _, frame in iter_frames(path, wanted):
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    except FrameReadError:
        if not frames:  # a container's frame count can overstate what decodes
            raise
    return list(zip(frames[::2], frames[1::2], strict=False))


def thumbnails(
    path: str | Path, indices: Iterable[int], thumb: tuple[int, int] = (32, 24)
) -> np.ndarray:
    """(len(indices), thumb_w * thumb_h) float32 grayscale thumbnails in [0, 1]."""
    rows = [
        cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), thumb, interpolation=cv2.INTER_AREA)
        for _, frame in iter_frames(path, indices)
    ]
    if not rows:
        return np.empty((0, thumb[0] * thumb[1]), dtype=np.float32)
    return np.stack(rows).reshape(len(rows), -1).astype(np.float32) / 255.0


def _closest_per_cluster(features: np.ndarray, n: int, seed: int) -> list[int]:
    """Row numbers of the member nearest each k-means centre (empty clusters give none)."""
    kmeans = KMeans(n_clusters=n, random_state=seed, n_init=3)
    with warnings.catch_warnings():
        # Near-identical frames give fewer distinct clusters than n; handled by the caller.
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = kmeans.fit_predict(features)
    distances = np.linalg.norm(features - kmeans.cluster_centers_[labels], axis=1)
    rows = []
    for cluster in range(n):
        members = np.flatnonzero(labels == cluster)
        if members.size:
            rows.append(int(members[np.argmin(distances[members])]))
    return rows


def pick_kmeans(
    path: str | Path,
    frame_count: int,
    n: int,
    seed: int,
    exclude: Iterable[int] = (),
    max_candidates: int = 1000,
    thumb: tuple[int, int] = (32, 24),
) -> list[int]:
    """n visually diverse frames, like DeepLabCut's ``extract_frames(mode="kmeans")``.

    One sequential pass decodes max(max_candidates, n) candidates spread evenly over the
    frames not excluded (all of them for short videos), shrinks each to a `thumb`
    (width, height) grayscale thumbnail, clusters them with k-means into n clusters and
    keeps the frame nearest each centre. Memory is bounded by the candidate count, not video length.
    Full (Lloyd) KMeans rather than DeepLabCut's MiniBatchKMeans: the candidates are
    already capped, so mini-batches save no memory, and their reassignment of small
    clusters tends to lose exactly the rare scenes we want to label.
    If clusters come out empty (near-identical frames), the rest is filled evenly from the
    unused candidates.
    """
    available = _available(frame_count, n, exclude)
    if n >= available.size:
        return available.tolist()
    if n == 0:
        return []
    candidates = spread(available, max(max_candidates, n))
    features = thumbnails(path, candidates.tolist(), thumb)
    chosen = set(_closest_per_cluster(features, n, seed))
    if len(chosen) < n:
        unused = np.setdiff1d(np.arange(len(candidates)), np.fromiter(chosen, dtype=np.int64))
        chosen.update(spread(unused, n - len(chosen)).tolist())
    return sorted(candidates[sorted(chosen)].tolist())


def _write_png(folder: Path, index: int, frame: np.ndarray) -> Path:
    """Write atomically (temporary file + rename) so a crash leaves no half PNG."""
    ok, encoded = cv2.imencode(".png", frame)
    if not ok:
        raise RuntimeError(f"cannot encode frame {index} as PNG")
    target = folder / frame_filename(index)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(encoded.tobytes())
    os.replace(partial, target)
    return target


def extract_frames(
    path: str | Path,
    indices: Iterable[int],
    out: str | Path | FrameSink,
    progress: Progress | None = None,
) -> list[Path]:
    """Decode `indices` (any order, duplicates ignored) in one sequential pass.

    `out` is a folder (created if needed; frames become ``frame_filename(index)`` PNGs,
    returned in index order) or a callback ``sink(index, frame_bgr)`` (returns []).
    `progress(done, total)` is called with 0 first and after every frame.
    """
    wanted = sorted({int(i) for i in indices})
    if wanted and wanted[0] < 0:
        raise ValueError(f"frame indices must be >= 0, got {wanted[0]}")
    sink = out if callable(out) else None
    folder = None if callable(out) else Path(out)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if progress is not None:
        progress(0, len(wanted))
    for done, (index, frame) in enumerate(iter_frames(path, wanted), start=1):
        if sink is not None:
            sink(index, frame)
        elif folder is not None:
            written.append(_write_png(folder, index, frame))
        if progress is not None:
            progress(done, len(wanted))
    return written

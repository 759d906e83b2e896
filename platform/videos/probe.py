"""Validate a video file before it is accepted: header facts plus cheap decode checks.

How truncation and corruption are caught, cheapest first:

1. Empty files and still images (PNG, JPEG, GIF, BMP, TIFF signatures) are refused by their
   first bytes; FFmpeg would otherwise open an image as a one-frame "video".
2. ISO-BMFF files (mp4/mov/m4v: ``ftyp`` first) get their top-level boxes walked: a box that
   runs past the end of the file, or a missing ``moov`` index, means the file was cut short.
   OpenCV writes ``moov`` at the end, so a cut mp4v file fails here with a clear message.
3. OpenCV (FFmpeg) must open it and report a positive frame count, a sane fps and size.
4. Decode probes: frame 0, the last frame the header promises, and `n_probes` frames spread
   evenly in between are each sought (``CAP_PROP_POS_FRAMES``) and decoded. Seeking decodes
   forward from the previous key frame, so each probe costs at most one GOP. A file whose
   data were overwritten or cut makes FFmpeg give up on the damaged frames, so a probe that
   lands there fails.
5. Small videos (frame_count x width x height <= `full_decode_max_pixels`, default 2e9
   pixel-frames: a few seconds of decoding) are also decoded sequentially end to end, the
   way frames are extracted, and must yield exactly the promised count. This matters: a
   few damaged bytes can stop sequential decoding for good while seeks past them still
   work. For larger videos only the probes run; damage between probes, or damage FFmpeg
   conceals, is then found by extraction (`videos.sampling.iter_frames` raises when the
   stream ends early). Use `count_decodable_frames` for a full check in a background job.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MAX_FPS = 5000.0  # above high-speed behaviour cameras; larger values are broken time bases
MAX_SIDE = 16384
DEFAULT_PROBES = 16
FULL_DECODE_MAX_PIXELS = 2_000_000_000

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)


class VideoProbeError(ValueError):
    """The file is not a usable video; the message says why, for the uploader."""


@dataclass(frozen=True)
class VideoInfo:
    """What a valid video reports. codec is the FourCC as text, e.g. ``"FMP4"``."""

    fps: float
    frame_count: int
    width: int
    height: int
    codec: str
    duration_s: float


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in `chunk`-byte pieces (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def validate_info(info: VideoInfo, name: str = "video") -> None:
    """Raise VideoProbeError unless the header facts are plausible."""
    if info.frame_count <= 0:
        raise VideoProbeError(f"{name} has no frames")
    if not math.isfinite(info.fps) or info.fps <= 0:
        raise VideoProbeError(f"{name} reports an invalid frame rate ({info.fps} fps)")
    if info.fps > MAX_FPS:
        raise VideoProbeError(
            f"{name} reports an absurd frame rate ({info.fps:g} fps > {MAX_FPS:g})"
        )
    if not (0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE):
        raise VideoProbeError(f"{name} has an invalid frame size {info.width}x{info.height}")


def _check_signature(path: Path, size: int, name: str) -> None:
    if size == 0:
        raise VideoProbeError(f"{name} is empty (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(16)
    for signature, kind in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            raise VideoProbeError(f"{name} is {kind}, not a video")


def _check_mp4_boxes(path: Path, size: int, name: str) -> None:
    """Walk the top-level ISO-BMFF boxes of an mp4/mov; refuse cut or index-less files."""
    with open(path, "rb") as handle:
        if handle.read(8)[4:8] != b"ftyp":
            return  # not ISO-BMFF; other containers are left to FFmpeg
        offset, kinds = 0, set()
        while offset < size:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                raise VideoProbeError(f"{name} is truncated (partial box at byte {offset})")
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) == 16:
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # box runs to the end of the file
                box_size = size - offset
            if box_size < 8:
                raise VideoProbeError(f"{name} is corrupt (bad box size at byte {offset})")
            if offset + box_size > size:
                raise VideoProbeError(
                    f"{name} is truncated: box '{kind.decode('latin-1')}' needs "
                    f"{offset + box_size} bytes, "
                    f"the file has {size}"
                )
            kinds.add(kind)
            offset += box_size
    if b"moov" not in kinds:
        raise VideoProbeError(f"{name} has no 'moov' index (truncated or still recording)")


def _fourcc(value: float) -> str:
    code = int(value) if math.isfinite(value) else 0
    return "".join(chr((code >> 8 * k) & 0xFF) for k in range(4)).strip("\x00 ")


def _read_info(cap: cv2.VideoCapture) -> VideoInfo:
    count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frame_count = int(count) if math.isfinite(count) and count > 0 else 0
    duration = frame_count / fps if math.isfinite(fps) and fps > 0 else 0.0
    return VideoInfo(
        fps=fps,
        frame_count=frame_count,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        codec=_fourcc(cap.get(cv2.CAP_PROP_FOURCC)),
        duration_s=duration,
    )


def probe_positions(frame_count: int, n_probes: int = DEFAULT_PROBES) -> list[int]:
    """Frame 0, the last frame and `n_probes` evenly spread frames, sorted, unique."""
    inner = np.linspace(0, frame_count - 1, n_probes + 2).round().astype(int)
    return sorted({0, frame_count - 1, *inner.tolist()})


def _check_decodes(cap: cv2.VideoCapture, info: VideoInfo, name: str, n_probes: int) -> None:
    for position in probe_positions(info.frame_count, n_probes):
        if position > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, position)
        ok, frame = cap.read()
        if not ok or frame is None:
            what = "truncated" if position == info.frame_count - 1 else "corrupt or truncated"
            raise VideoProbeError(
                f"{name} is {what}: the header promises {info.frame_count} frames but frame "
                f"{position} cannot be decoded"
            )
        if frame.shape[:2] != (info.height, info.width):
            raise VideoProbeError(
                f"{name} is corrupt: frame {position} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the header says {info.width}x{info.height}"
            )


def count_decodable_frames(path: str | Path) -> int:
    """Frames that sequential decoding yields before it stops (reads the whole stream)."""
    cap = cv2.VideoCapture(str(path))
    try:
        count = 0
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()


def probe_video(
    path: str | Path,
    *,
    name: str | None = None,
    n_probes: int = DEFAULT_PROBES,
    full_decode_max_pixels: int = FULL_DECODE_MAX_PIXELS,
) -> VideoInfo:
    """Facts about a video that opens and decodes, or VideoProbeError saying what is wrong.

    Decodes `n_probes` + 2 frames (each from its preceding key frame), and every frame when
    frame_count * width * height <= `full_decode_max_pixels`; see the module docstring.
    Messages call the file `name` (the name its owner knows: an upload lives in a temporary
    file), by default the path's own name.
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise VideoProbeError(f"{name} does not exist or is not a file")
    size = path.stat().st_size
    _check_signature(path, size, name)
    _check_mp4_boxes(path, size, name)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoProbeError(
                f"{name} cannot be opened as a video (not a video, corrupt, or truncated)"
            )
        info = _read_info(cap)
        validate_info(info, name)
        _check_decodes(cap, info, name, n_probes)
    finally:
        cap.release()
    if info.frame_count * info.width * info.height <= full_decode_max_pixels:
        decoded = count_decodable_frames(path)
        if decoded != info.frame_count:
            raise VideoProbeError(
                f"{name} is corrupt or truncated: the header promises {info.frame_count} "
                f"frames but decoding stops after {decoded}"
            )
    return info

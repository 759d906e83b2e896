"""anipose's ``calibration.toml``: a rig's cameras, read and written.

Layout (anipose / aniposelib ``CameraGroup.dump``, also sleap-anipose)::

    [cam_0]
    name = "back"
    size = [1280, 1024]                  # width, height
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]
    rotation = [rx, ry, rz]              # Rodrigues, world -> camera
    translation = [tx, ty, tz]           # world -> camera, board units (mm)

    [metadata]
    adjusted = false
    error = 0.3

Sections are read in the order ``cam_0, cam_1, ...``; ``[metadata]`` is optional. anipose's
fisheye cameras (``fisheye = true``) are refused: PoseLoop models pinhole lenses only.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .camera import Camera


class CalibrationFileError(ValueError):
    """A calibration.toml is malformed; the message names the problem."""


def load_calibration_toml(path: str | Path) -> list[Camera]:
    """The cameras of an anipose ``calibration.toml`` (in ``cam_0, cam_1, ...`` order)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CalibrationFileError(f"calibration file not found: {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationFileError(f"{path.name}: not valid TOML ({exc})") from exc
    return cameras_from_dict(data, path.name)


def cameras_from_dict(data: Mapping, where: str = "calibration") -> list[Camera]:
    """Cameras from a parsed calibration.toml dict."""
    keys = sorted((k for k in data if re.fullmatch(r"cam_\d+", k)), key=lambda k: int(k[4:]))
    if len(keys) < 1:
        raise CalibrationFileError(f"{where}: no [cam_0] section")
    cameras = []
    for key in keys:
        sec = data[key]
        if sec.get("fisheye"):
            raise CalibrationFileError(f"{where}: [{key}] is a fisheye camera (not supported)")
        try:
            cameras.append(Camera(
                name=str(sec.get("name", key)),
                size=tuple(sec["size"]),
                matrix=np.array(sec["matrix"], dtype=np.float64),
                dist=np.array(sec["distortions"], dtype=np.float64),
                rvec=np.array(sec["rotation"], dtype=np.float64),
                tvec=np.array(sec["translation"], dtype=np.float64),
            ))
        except KeyError as exc:
            raise CalibrationFileError(f"{where}: [{key}] has no {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise CalibrationFileError(f"{where}: [{key}] has a malformed value ({exc})") from exc
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise CalibrationFileError(f"{where}: camera names repeat ({', '.join(names)})")
    return cameras


def save_calibration_toml(cameras: Sequence[Camera], path: str | Path,
                          metadata: Mapping[str, object] | None = None) -> Path:
    """Write cameras (and flat ``metadata``) as anipose's calibration.toml; returns the path."""
    lines: list[str] = []
    for i, cam in enumerate(cameras):
        lines += [
            f"[cam_{i}]",
            f"name = {_value(cam.name)}",
            f"size = {_value([int(v) for v in cam.size])}",
            f"matrix = {_value(cam.matrix.tolist())}",
            f"distortions = {_value(cam.dist.tolist())}",
            f"rotation = {_value(cam.rvec.tolist())}",
            f"translation = {_value(cam.tvec.tolist())}",
            "",
        ]
    lines.append("[metadata]")
    for key, val in dict(metadata or {"adjusted": False}).items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
            raise ValueError(f"metadata key {key!r} is not a bare TOML key")
        lines.append(f"{key} = {_value(val)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _value(value: object) -> str:
    """A TOML value: strings, booleans, numbers, lists and flat dicts (inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(v)}"
                                for k, v in value.items()) + " }"
    if isinstance(value, Sequence | np.ndarray):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {type(value).__name__} to TOML")

"""Pinhole cameras with OpenCV's lens distortion, and projecting points through them.

A camera maps world points ``X`` (board units, e.g. mm) to camera coordinates
``R @ X + t`` (``R`` from the Rodrigues vector ``rvec``), then to normalized image
coordinates ``(x/z, y/z)``, then through OpenCV's distortion model
(``k1, k2, p1, p2[, k3[, k4, k5, k6]]``) and the intrinsic matrix to pixels. The
conventions are OpenCV's and anipose's (``calibration.toml`` stores exactly these numbers).
Arrays of points carry any leading shape: ``(..., 3)`` in, ``(..., 2)`` out; NaN stays NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Camera:
    """One calibrated camera.

    Attributes:
        name: the camera's name (unique within a rig).
        size: image (width, height) in pixels.
        matrix: float64 (3, 3) intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]].
        dist: float64 (5,) or (8,) OpenCV distortion k1, k2, p1, p2, k3[, k4, k5, k6].
        rvec: float64 (3,) Rodrigues rotation world -> camera.
        tvec: float64 (3,) translation world -> camera (world units, e.g. mm).
    """

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        self.matrix = np.asarray(self.matrix, dtype=np.float64).reshape(3, 3)
        dist = np.asarray(self.dist, dtype=np.float64).ravel()
        if dist.size not in (4, 5, 8):
            raise ValueError(f"camera {self.name!r}: distortion needs 4, 5 or 8 coefficients, "
                             f"got {dist.size}")
        self.dist = np.pad(dist, (0, 5 - dist.size)) if dist.size == 4 else dist
        self.rvec = np.asarray(self.rvec, dtype=np.float64).reshape(3)
        self.tvec = np.asarray(self.tvec, dtype=np.float64).reshape(3)

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) rotation matrix world -> camera."""
        return rotation_matrix(self.rvec)

    @property
    def center(self) -> np.ndarray:
        """(3,) the camera's optical centre in world coordinates."""
        return -self.rotation.T @ self.tvec

    @property
    def extrinsic(self) -> np.ndarray:
        """(3, 4) [R | t]: world -> camera coordinates (normalized projection matrix)."""
        return np.hstack([self.rotation, self.tvec[:, None]])


def rotation_matrix(rvec: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix of a Rodrigues vector (3,)."""
    return cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))[0]


def rodrigues(matrix: np.ndarray) -> np.ndarray:
    """(3,) Rodrigues vector of a (3, 3) rotation matrix."""
    return cv2.Rodrigues(np.asarray(matrix, dtype=np.float64))[0].ravel()


def rotate(rvecs: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rotate points (..., 3) by Rodrigues vectors (..., 3) (broadcast), vectorized."""
    rvecs = np.asarray(rvecs, dtype=np.float64)
    theta = np.linalg.norm(rvecs, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        axis = np.where(theta > 1e-12, rvecs / theta, 0.0)
    cos, sin = np.cos(theta), np.sin(theta)
    dot = np.sum(axis * points, axis=-1, keepdims=True)
    return points * cos + np.cross(axis, points) * sin + axis * dot * (1 - cos)


def distort(normalized: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Apply OpenCV's distortion to normalized coordinates (..., 2) -> (..., 2)."""
    k = np.zeros(8)
    k[: dist.size] = dist
    x, y = normalized[..., 0], normalized[..., 1]
    r2 = x * x + y * y
    radial = (1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]))) / (
        1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7]))
    )
    xd = x * radial + 2 * k[2] * x * y + k[3] * (r2 + 2 * x * x)
    yd = y * radial + k[2] * (r2 + 2 * y * y) + 2 * k[3] * x * y
    return np.stack([xd, yd], axis=-1)


def to_camera(camera: Camera, points3d: np.ndarray) -> np.ndarray:
    """World points (..., 3) -> camera coordinates (..., 3)."""
    pts = np.asarray(points3d, dtype=np.float64)
    return pts @ camera.rotation.T + camera.tvec


def project(camera: Camera, points3d: np.ndarray) -> np.ndarray:
    """Pixel positions (..., 2) of world points (..., 3), with distortion.

    Points behind the camera (z <= 0) and NaN points give NaN.
    """
    cam = to_camera(camera, points3d)
    z = cam[..., 2:3]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = np.where(z > 0, cam[..., :2] / z, np.nan)
    return normalized_to_pixels(camera, distort(normalized, camera.dist))


def normalized_to_pixels(camera: Camera, normalized: np.ndarray) -> np.ndarray:
    """Normalized coordinates (..., 2) -> pixels through the intrinsic matrix (no distortion)."""
    m = camera.matrix
    u = m[0, 0] * normalized[..., 0] + m[0, 1] * normalized[..., 1] + m[0, 2]
    v = m[1, 1] * normalized[..., 1] + m[1, 2]
    return np.stack([u, v], axis=-1)


def undistort_normalized(camera: Camera, pixels: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Pixels (..., 2) -> undistorted normalized coordinates (..., 2) (inverse of `project`).

    OpenCV's fixed-point inversion of the distortion, vectorized and run longer than
    ``cv2.undistortPoints``' default 5 iterations so strong lenses invert to < 1e-6 px.
    """
    px = np.asarray(pixels, dtype=np.float64)
    m = camera.matrix
    yd = (px[..., 1] - m[1, 2]) / m[1, 1]
    xd = (px[..., 0] - m[0, 2] - m[0, 1] * yd) / m[0, 0]
    distorted = np.stack([xd, yd], axis=-1)
    if not np.any(camera.dist):
        return distorted
    k = np.zeros(8)
    k[: camera.dist.size] = camera.dist
    x, y = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = x * x + y * y
        icdist = (1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7]))) / (
            1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]))
        )
        dx = 2 * k[2] * x * y + k[3] * (r2 + 2 * x * x)
        dy = k[2] * (r2 + 2 * y * y) + 2 * k[3] * x * y
        x = (xd - dx) * icdist
        y = (yd - dy) * icdist
    return np.stack([x, y], axis=-1)


def undistort_pixels(camera: Camera, pixels: np.ndarray) -> np.ndarray:
    """Pixels (..., 2) -> where an ideal (distortion-free) lens would put them (..., 2)."""
    return normalized_to_pixels(camera, undistort_normalized(camera, pixels))

"""Synthetic rigs with known geometry, for exact tests of calibration and triangulation.

`ring_rig` places cameras on a ring above the scene looking at its centre; `walking_animal`
moves a small skeleton (mouse-sized, in mm) through it; `render_points` gives each camera's
2D points; `render_board_videos` films a ChArUco board in random poses through each camera
(lens distortion included) for the calibration test.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .board import Board, board_image
from .camera import Camera, project, rodrigues, undistort_pixels
from .triangulate import reproject

BODYPARTS = ["nose", "ear_l", "ear_r", "neck", "trunk", "hip_l", "hip_r", "tail_base",
             "tail_mid", "tail_tip"]
EDGES = [("nose", "neck"), ("ear_l", "neck"), ("ear_r", "neck"), ("neck", "trunk"),
         ("trunk", "hip_l"), ("trunk", "hip_r"), ("trunk", "tail_base"),
         ("tail_base", "tail_mid"), ("tail_mid", "tail_tip")]
# Body frame: x forward, y left, z up (mm).
_BODY = np.array([[45, 0, 15], [30, 10, 22], [30, -10, 22], [22, 0, 18], [0, 0, 20],
                  [-20, 12, 12], [-20, -12, 12], [-32, 0, 12], [-60, 5, 5], [-90, 12, 2]],
                 dtype=np.float64)


def look_at(center: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rvec, tvec) of a camera at ``center`` looking at ``target`` (world z up, image y down)."""
    up = np.array([0.0, 0.0, 1.0])
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    r = np.stack([x, y, z])
    return rodrigues(r), -r @ center


def ring_rig(n_cameras: int = 4, *, radius: float = 500.0, height: float = 400.0,
             size: tuple[int, int] = (1280, 1024), focal: float = 1400.0,
             dist: tuple[float, ...] = (-0.1, 0.05, 0.0, 0.0, 0.0), seed: int = 0
             ) -> list[Camera]:
    """Cameras evenly around a ring (radius, height in mm) looking at the origin.

    Focal lengths and principal points vary a little per camera (``seed``).
    """
    rng = np.random.default_rng(seed)
    cams = []
    for i in range(n_cameras):
        angle = 2 * np.pi * i / n_cameras + rng.uniform(-0.2, 0.2)
        center = np.array([radius * np.cos(angle), radius * np.sin(angle),
                           height * rng.uniform(0.8, 1.2)])
        rvec, tvec = look_at(center, rng.normal(0, 10, 3))
        f = focal * rng.uniform(0.9, 1.1)
        matrix = [[f, 0, size[0] / 2 + rng.uniform(-20, 20)],
                  [0, f, size[1] / 2 + rng.uniform(-20, 20)], [0, 0, 1]]
        cams.append(Camera(f"cam{i}", size, np.array(matrix), np.array(dist), rvec, tvec))
    return cams


def walking_animal(n_frames: int = 100, seed: int = 0) -> np.ndarray:
    """(F, K, 3) keypoints (mm) of `BODYPARTS` walking a wobbly circle around the origin."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / 30.0
    phase = rng.uniform(0, 2 * np.pi)
    heading = phase + 0.8 * t + 0.3 * np.sin(3 * t)
    pos = np.stack([60 * np.cos(0.8 * t + phase), 60 * np.sin(0.8 * t + phase),
                    np.zeros_like(t)], axis=1)
    c, s = np.cos(heading), np.sin(heading)
    rot = np.zeros((n_frames, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1
    body = np.broadcast_to(_BODY, (n_frames, *_BODY.shape)).copy()
    body[:, 0, 2] += 8 * np.sin(5 * t)[:, None].ravel()  # the nose bobs
    body[:, 8:, 1] += 15 * np.sin(4 * t)[:, None]  # the tail swings
    return np.einsum("fij,fkj->fki", rot, body) + pos[:, None, :]


def render_points(cameras: list[Camera], points3d: np.ndarray, noise_px: float = 0.0,
                  seed: int = 0) -> np.ndarray:
    """(C, F, K, 2) pixels of (F, K, 3) points per camera, plus Gaussian noise (sigma px)."""
    pts = reproject(cameras, points3d)
    if noise_px:
        pts = pts + np.random.default_rng(seed).normal(0, noise_px, pts.shape)
    return pts


def random_board_poses(board: Board, n: int, seed: int = 0, max_tilt_deg: float = 25.0,
                       max_yaw_deg: float = 180.0) -> np.ndarray:
    """(n, 6) board -> world rvec, tvec: the board near the origin, face up, tilted, turned
    by up to ``max_yaw_deg`` either way."""
    rng = np.random.default_rng(seed)
    cols, rows = board.board_size
    middle = np.array([cols, rows, 0.0]) * board.square_side_length / 2
    out = np.zeros((n, 6))
    for i in range(n):
        flip = cv2.Rodrigues(np.array([np.pi, 0.0, 0.0]))[0]  # board z (into it) -> down
        turn = np.deg2rad(rng.uniform(-max_yaw_deg, max_yaw_deg))
        yaw = cv2.Rodrigues(np.array([0.0, 0.0, turn]))[0]
        tilt_axis = np.array([*rng.normal(size=2), 0.0])
        tilt_axis /= np.linalg.norm(tilt_axis)
        tilt = cv2.Rodrigues(tilt_axis * np.deg2rad(rng.uniform(0, max_tilt_deg)))[0]
        r = tilt @ yaw @ flip
        t = rng.normal(0, 30, 3) * np.array([1, 1, 0.5]) - r @ middle
        out[i] = np.concatenate([rodrigues(r), t])
    return out


def render_board_videos(board: Board, cameras: list[Camera], poses: np.ndarray,
                        folder: str | Path, pixels_per_square: int = 60) -> dict[str, Path]:
    """One .avi per camera filming the board in each pose (frame i = pose i); name -> path.

    Rendered by a homography of the board picture (``generateImage``) into the ideal
    pinhole image, then remapped through the lens distortion, on a grey background.
    Written losslessly (FFV1) so corners are found where the geometry puts them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    picture = board_image(board, pixels_per_square)
    cols, rows = board.board_size
    scale = board.square_side_length / pixels_per_square
    outline = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], dtype=np.float64)
    paths = {}
    for cam in cameras:
        w, h = cam.size
        # each pixel of the distorted image samples the ideal image where the lens sends it
        grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).astype(np.float64)
        ideal_px = undistort_pixels(cam, grid).astype(np.float32)
        map1, map2 = ideal_px[..., 0], ideal_px[..., 1]
        path = folder / f"{cam.name}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, (w, h))
        ideal = Camera(cam.name, cam.size, cam.matrix, np.zeros(5), cam.rvec, cam.tvec)
        for pose in poses:
            corners = outline * board.square_side_length
            world = (cv2.Rodrigues(pose[:3])[0] @ np.c_[corners, np.zeros(4)].T).T + pose[3:]
            dst = project(ideal, world).astype(np.float32)
            src = (corners / scale - 0.5).astype(np.float32)  # pixel centres are integers
            frame = np.full((h, w), 128, np.uint8)
            if np.isfinite(dst).all():
                hom = cv2.getPerspectiveTransform(src, dst)
                warped = cv2.warpPerspective(picture, hom, (w, h), flags=cv2.INTER_AREA,
                                             borderValue=128)
                frame = cv2.remap(warped, map1, map2, cv2.INTER_LINEAR, borderValue=128)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
        paths[cam.name] = path
    return paths

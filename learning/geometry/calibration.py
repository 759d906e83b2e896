"""Calibrating a camera rig from recordings of a board: intrinsics per camera, extrinsics jointly.

Steps (`calibrate` on videos, `calibrate_detections` on corners already found):

1. Board corners per camera and frame (`board.detect_corners`), at most ``max_frames``
   frames spread over the synchronized recordings (frame ``i`` of every camera is the same
   moment, after the optional per-camera ``offsets``).
2. Intrinsics and distortion per camera: ``cv2.calibrateCamera`` on that camera's corners;
   then the board's pose in every frame per camera (``cv2.solvePnP``).
3. Initial extrinsics: the first camera is the world (identity). For each pair of cameras the
   relative pose is the one most of the frames both see agree with (within 5 degrees); the
   cameras are chained along a maximum spanning tree of "frames seen together". A
   checkerboard's corner order depends on the side it is seen from (half a turn), so for
   checkerboards both orders are tried per frame and each camera's corners are renumbered
   to agree with the camera that sees most of them.
4. Bundle adjustment with ``scipy.optimize.least_squares`` (Huber loss, 1 px scale, sparse
   Jacobian): camera poses, the board's pose in every frame seen by two or more cameras and,
   by default, each camera's intrinsics (then frames seen by one camera join too, for the
   intrinsics only) minimize the pixel reprojection error of every detected corner.

The world unit is the board's ``square_side_length`` unit (mm for anipose boards).

Why not aniposelib: it does these steps (and its own ``calibration.toml``, which we read and
write), but it depends on ``opencv-contrib-python``, which installs a second ``cv2`` over the
headless OpenCV PoseLoop uses (two OpenCV wheels in one environment break each other), and
its ChArUco code targets the pre-4.7 ``cv2.aruco`` functions that OpenCV removed. What we
need of it is ~300 lines on top of OpenCV's ``CharucoDetector`` / ``calibrateCamera`` /
``solvePnP`` and SciPy's least squares, so PoseLoop keeps one OpenCV and owns the code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix, csc_matrix, csr_matrix

from .board import Board, Detection, corner_detector, detect_corners, object_points
from .camera import Camera, distort, rodrigues, rotate, rotation_matrix

Progress = Callable[[float, str], None]

MIN_CORNERS = 6  # fewer corners in a frame: not used (a pose needs >= 4, 6 is steadier)


class CalibrationError(ValueError):
    """A rig cannot be calibrated from these recordings; the message says why, for people."""


@dataclass
class Calibration:
    """A calibrated rig.

    Attributes:
        cameras: the cameras in the order given; the first one defines the world frame.
        reprojection: per camera name {"median", "mean" (px), "n_frames", "n_corners"} over
            the corners the bundle adjustment used.
        diagnostics: per camera name a BGR image: one frame with its detected corners (green
            circles) and the corners reprojected through the calibration (red crosses), all
            used corners as grey dots (coverage), and the figures.
    """

    cameras: list[Camera]
    reprojection: dict[str, dict[str, float]]
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)


Detections = dict[str, dict[int, Detection]]  # camera name -> frame index -> corners


def calibrate(
    board: Board,
    videos: Mapping[str, str | Path],
    progress: Progress | None = None,
    *,
    offsets: Mapping[str, int] | None = None,
    max_frames: int = 200,
    **options: object,
) -> Calibration:
    """Calibrate a rig from one board recording per camera (name -> video path).

    ``offsets``: per camera, the frame of its video that is frame 0 of the rig (default 0).
    ``options`` go to `calibrate_detections` (``min_frames``, ``max_median_px``, ...).
    Raises CalibrationError (a video unreadable, the board seen too rarely, a camera linked
    to no other, the reprojection error too high).
    """
    if len(videos) < 2:
        raise CalibrationError("a rig needs at least two cameras")
    detections, sizes, backgrounds = detect_in_videos(
        board, videos, progress, offsets=offsets, max_frames=max_frames
    )
    return calibrate_detections(
        board, detections, sizes, backgrounds=backgrounds, progress=progress, **options
    )


def detect_in_videos(
    board: Board,
    videos: Mapping[str, str | Path],
    progress: Progress | None = None,
    *,
    offsets: Mapping[str, int] | None = None,
    max_frames: int = 200,
) -> tuple[Detections, dict[str, tuple[int, int]], dict[str, tuple[int, np.ndarray]]]:
    """Board corners in up to ``max_frames`` synchronized frames of every video.

    Returns (detections, sizes (width, height) per camera, per camera the frame with the
    most corners as (rig frame index, BGR image) for the diagnostic pictures).
    """
    offsets = dict(offsets or {})
    counts = {}
    for name, path in videos.items():
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise CalibrationError(f"camera {name}: cannot open the video {Path(path).name}")
        counts[name] = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) - offsets.get(name, 0)
        cap.release()
    n = min(counts.values())
    if n <= 0:
        raise CalibrationError("the board recordings have no frame in common")
    wanted = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
    detections: Detections = {}
    sizes: dict[str, tuple[int, int]] = {}
    backgrounds: dict[str, tuple[int, np.ndarray]] = {}
    detector = corner_detector(board)
    for c, (name, path) in enumerate(videos.items()):
        start = offsets.get(name, 0)
        found: dict[int, Detection] = {}
        for index, image in _frames(path, wanted + start):
            sizes[name] = (image.shape[1], image.shape[0])
            det = detect_corners(board, image, detector=detector)
            if len(det):
                found[index - start] = det
            if name not in backgrounds or len(det) > len(found.get(backgrounds[name][0], ())):
                backgrounds[name] = (index - start, image)
        if name not in sizes:
            raise CalibrationError(f"camera {name}: no frame could be read from "
                                   f"{Path(path).name}")
        detections[name] = found
        if progress:
            progress(0.5 * (c + 1) / len(videos),
                     f"{name}: board found in {len(found)} of {len(wanted)} frames")
    return detections, sizes, backgrounds


def _frames(path: str | Path, indices: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR image) of the wanted frames (sorted indices), decoding sequentially."""
    cap = cv2.VideoCapture(str(path))
    keep = set(indices.tolist())
    try:
        for index in range(int(indices[-1]) + 1):
            if index not in keep:
                if not cap.grab():
                    return
                continue
            ok, image = cap.read()
            if not ok:
                return
            yield index, image
    finally:
        cap.release()


def calibrate_detections(
    board: Board,
    detections: Detections,
    sizes: Mapping[str, tuple[int, int]],
    *,
    backgrounds: Mapping[str, tuple[int, np.ndarray]] | None = None,
    progress: Progress | None = None,
    min_frames: int = 5,
    min_shared_frames: int = 3,
    max_median_px: float = 3.0,
    refine_intrinsics: bool = True,
    fix_k3: bool = True,
) -> Calibration:
    """Calibrate from corners already found (camera name -> frame -> Detection).

    A camera must see the board (>= 6 corners) in ``min_frames`` frames, be linked to the
    others through chains of cameras sharing ``min_shared_frames`` frames, and end with a
    median reprojection error <= ``max_median_px``; otherwise CalibrationError.
    """
    names = list(detections)
    if len(names) < 2:
        raise CalibrationError("a rig needs at least two cameras")
    objp = object_points(board)
    dets = {n: {f: d for f, d in detections[n].items() if len(d) >= MIN_CORNERS} for n in names}
    for name in names:
        if len(dets[name]) < min_frames:
            raise CalibrationError(
                f"camera {name} sees the board in {len(dets[name])} frame(s) (at least "
                f"{MIN_CORNERS} corners); {min_frames} are needed: record the board longer, "
                "closer, or at more angles in that camera"
            )
    cams: list[Camera] = []
    poses: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for c, name in enumerate(names):
        camera, poses[name] = _intrinsics(name, sizes[name], dets[name], objp, fix_k3)
        cams.append(camera)
        if progress:
            progress(0.5 + 0.2 * (c + 1) / len(names), f"{name}: intrinsics")
    flip = _flip_transform(board) if board.board_type == "checkerboard" else None
    _initial_extrinsics(cams, poses, min_shared_frames, flip)
    if flip is not None:
        _agree_on_corner_order(cams, poses, dets, flip, board.n_corners)
    if progress:
        progress(0.75, "bundle adjustment")
    obs = _observations(names, dets, objp, refine_intrinsics)
    frames = _bundle_adjust(cams, poses, obs, refine_intrinsics, fix_k3)
    errors = _errors(cams, frames, obs)
    reprojection = {}
    for c, name in enumerate(names):
        mine = obs.cam == c
        e = errors[mine]
        reprojection[name] = {
            "median": float(np.median(e)), "mean": float(np.mean(e)),
            "n_frames": int(np.unique(obs.frame[mine]).size), "n_corners": int(e.size),
        }
    bad = {n: r["median"] for n, r in reprojection.items() if r["median"] > max_median_px}
    if bad:
        listed = ", ".join(f"{n} {v:.2f} px" for n, v in bad.items())
        raise CalibrationError(
            f"reprojection error too high (median {listed}; at most {max_median_px} px): "
            "check that the recordings are synchronized and the board description matches"
        )
    diagnostics = {
        name: _diagnostic(cams[c], c, frames, obs, errors, reprojection[name],
                          (backgrounds or {}).get(name), objp, dets[name])
        for c, name in enumerate(names)
    }
    if progress:
        progress(1.0, "calibrated: " + ", ".join(
            f"{n} {r['median']:.2f} px" for n, r in reprojection.items()))
    return Calibration(cams, reprojection, diagnostics)


def _intrinsics(
    name: str, size: tuple[int, int], dets: dict[int, Detection], objp: np.ndarray,
    fix_k3: bool, max_views: int = 60,
) -> tuple[Camera, dict[int, tuple[np.ndarray, np.ndarray]]]:
    keys = sorted(dets)
    chosen = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, min(len(keys), max_views))
                                         .round().astype(int))]
    obj = [objp[dets[f].ids].astype(np.float32) for f in chosen]
    img = [dets[f].corners_px.astype(np.float32).reshape(-1, 1, 2) for f in chosen]
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    try:
        rms, matrix, dist, _, _ = cv2.calibrateCamera(obj, img, tuple(size), None, None,
                                                      flags=flags)
    except cv2.error as exc:
        raise CalibrationError(f"camera {name}: OpenCV could not calibrate it ({exc})") from exc
    camera = Camera(name, size, matrix, dist.ravel()[:5])
    poses = {}
    for f in keys:
        ok, rvec, tvec = cv2.solvePnP(objp[dets[f].ids], dets[f].corners_px, camera.matrix,
                                      camera.dist, flags=cv2.SOLVEPNP_IPPE)
        if ok:
            poses[f] = (rvec.ravel(), tvec.ravel())
    return camera, poses


def _compose(r1: np.ndarray, t1: np.ndarray, r2: np.ndarray, t2: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Rotation matrix and translation of x -> R2 (R1 x + t1) + t2."""
    return r2 @ r1, r2 @ t1 + t2


def _initial_extrinsics(cams: list[Camera], poses: dict, min_shared: int,
                        flip: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    names = [c.name for c in cams]
    shared = {(i, j): sorted(set(poses[a]) & set(poses[b]))
              for i, a in enumerate(names) for j, b in enumerate(names) if i != j}
    linked = [n for i, n in enumerate(names)
              if all(len(shared[i, j]) < min_shared for j in range(len(names)) if j != i)]
    if linked:
        raise CalibrationError(
            f"camera(s) {', '.join(linked)} share fewer than {min_shared} board frames with "
            "every other camera (linked to no other): record the board where they and a "
            "neighbouring camera see it at the same time"
        )
    world = {0: (np.eye(3), np.zeros(3))}
    while len(world) < len(names):
        edges = [(len(shared[i, j]), i, j) for i in world for j in range(len(names))
                 if j not in world and len(shared[i, j]) >= min_shared]
        if not edges:
            missing = [names[j] for j in range(len(names)) if j not in world]
            raise CalibrationError(
                f"camera(s) {', '.join(missing)} are not linked to camera {names[0]} through "
                f"cameras that share {min_shared} board frames: the rig falls apart in groups"
            )
        _, i, j = max(edges)
        rel_r, rel_t = _relative_pose(poses[names[i]], poses[names[j]], shared[i, j], flip)
        world[j] = _compose(*world[i], rel_r, rel_t)
    for j, cam in enumerate(cams):
        cam.rvec, cam.tvec = rodrigues(world[j][0]), world[j][1]


def _relative_pose(pi: dict, pj: dict, frames: list[int],
                   flip: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Camera i -> camera j: the rotation most frames agree with (within 5 degrees) and the
    median translation of those frames. With ``flip`` (checkerboards, whose corner order a
    camera may see turned by half a turn) each frame offers both orders of camera j."""
    rots, trans = [], []
    for f in frames:
        ri = rotation_matrix(pi[f][0])
        for rb, tb in _orders(pj[f], flip):
            r = rb @ ri.T
            rots.append(r)
            trans.append(tb - r @ pi[f][1])
    rs = np.array(rots)
    cos = (np.einsum("aij,bij->ab", rs, rs) - 1) / 2
    close = np.arccos(np.clip(cos, -1, 1)) < np.deg2rad(5)
    best = int(np.argmax(close.sum(axis=1)))
    return rs[best], np.median(np.array(trans)[close[best]], axis=0)


def _flip_transform(board: Board) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) with object point of id n-1-k = R @ (object point of id k) + t: half a turn."""
    cols, rows = board.board_size
    return (np.diag([-1.0, -1.0, 1.0]),
            np.array([cols, rows, 0.0]) * board.square_side_length)


def _orders(pose: tuple[np.ndarray, np.ndarray], flip: tuple[np.ndarray, np.ndarray] | None
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The board pose (rotation matrix, t) as detected and, with ``flip``, with the corner
    order reversed (the same corners seen as the board turned by half a turn)."""
    r, t = rotation_matrix(pose[0]), pose[1]
    if flip is None:
        return [(r, t)]
    return [(r, t), (r @ flip[0], r @ flip[1] + t)]


def _agree_on_corner_order(cams: list[Camera], poses: dict, dets: dict,
                           flip: tuple[np.ndarray, np.ndarray], n_corners: int) -> None:
    """Checkerboards: in every frame, renumber each camera's corners so that all cameras
    agree with the camera that sees most of them (by the world pose each order implies)."""
    frames: dict[int, list[Camera]] = {}
    for cam in cams:
        for f in poses[cam.name]:
            frames.setdefault(f, []).append(cam)
    for f, seen in frames.items():
        ref = max(seen, key=lambda c: len(dets[c.name][f]))
        target = _world_pose(ref, _orders(poses[ref.name][f], None)[0])
        for cam in seen:
            if cam is ref:
                continue
            options = [_world_pose(cam, o) for o in _orders(poses[cam.name][f], flip)]
            angles = [np.arccos(np.clip((np.trace(target[0].T @ o[0]) - 1) / 2, -1, 1))
                      for o in options]
            if angles[1] < angles[0]:
                r, t = options[1][0], options[1][1]
                r_cam, t_cam = cam.rotation @ r, cam.rotation @ t + cam.tvec
                poses[cam.name][f] = (rodrigues(r_cam), t_cam)
                det = dets[cam.name][f]
                dets[cam.name][f] = Detection(n_corners - 1 - det.ids, det.corners_px)


def _world_pose(cam: Camera, pose: tuple[np.ndarray, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Board -> world (rotation matrix, t) from a board -> camera pose."""
    r_c = cam.rotation
    return r_c.T @ pose[0], r_c.T @ (pose[1] - cam.tvec)


@dataclass
class _Obs:
    cam: np.ndarray  # (M,) camera index
    frame: np.ndarray  # (M,) index into the frame list
    obj: np.ndarray  # (M, 3) board coordinates
    img: np.ndarray  # (M, 2) detected pixels
    frame_ids: list[tuple[int, int]]  # per frame: (rig frame index, camera that sees it best)


def _observations(names: list[str], dets: dict, objp: np.ndarray, all_frames: bool) -> _Obs:
    seen: dict[int, list[int]] = {}
    for c, name in enumerate(names):
        for f in dets[name]:
            seen.setdefault(f, []).append(c)
    frame_list = [f for f in sorted(seen) if len(seen[f]) >= 2 or all_frames]
    cam, frame, obj, img, ids = [], [], [], [], []
    for k, f in enumerate(frame_list):
        best = max(seen[f], key=lambda c: len(dets[names[c]][f]))
        ids.append((f, best))
        for c in seen[f]:
            d = dets[names[c]][f]
            cam.append(np.full(len(d), c))
            frame.append(np.full(len(d), k))
            obj.append(objp[d.ids])
            img.append(d.corners_px)
    if not frame_list:
        raise CalibrationError("no frame shows the board to two cameras at once")
    return _Obs(np.concatenate(cam), np.concatenate(frame), np.concatenate(obj),
                np.concatenate(img), ids)


def _bundle_adjust(cams: list[Camera], poses: dict, obs: _Obs, intrinsics: bool,
                   fix_k3: bool) -> np.ndarray:
    """Refine cams in place; returns the board poses (n_frames, 6) rvec, tvec in the world."""
    n_cam, n_frame = len(cams), len(obs.frame_ids)
    boards = np.zeros((n_frame, 6))
    for k, (f, c) in enumerate(obs.frame_ids):
        rb, tb = poses[cams[c].name][f]
        rc, tc = cams[c].rotation, cams[c].tvec
        r = rc.T @ rotation_matrix(rb)
        boards[k] = np.concatenate([rodrigues(r), rc.T @ (tb - tc)])
    n_intr = (8 if fix_k3 else 9) if intrinsics else 0
    extr = np.array([np.concatenate([c.rvec, c.tvec]) for c in cams[1:]]).reshape(-1)
    intr = np.array([_intr_vector(c)[:n_intr] for c in cams]).reshape(-1)
    x0 = np.concatenate([extr, boards.ravel(), intr])

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ext = np.vstack([np.zeros(6), x[: 6 * (n_cam - 1)].reshape(-1, 6)])
        brd = x[6 * (n_cam - 1): 6 * (n_cam - 1 + n_frame)].reshape(-1, 6)
        itr = x[6 * (n_cam - 1 + n_frame):].reshape(n_cam, n_intr)
        return ext, brd, itr

    base_intr = np.array([_intr_vector(c) for c in cams])

    def residuals(x: np.ndarray) -> np.ndarray:
        ext, brd, itr = unpack(x)
        full = base_intr.copy()
        full[:, :n_intr] = itr
        return (_project_obs(ext, brd, full, obs) - obs.img).ravel()

    sparsity = _sparsity(obs, n_cam, n_frame, n_intr).tocsc()
    groups = [np.arange(p, 6 * (n_cam - 1), 6) for p in range(6)]
    groups += [6 * (n_cam - 1) + np.arange(p, 6 * n_frame, 6) for p in range(6)]
    groups += [6 * (n_cam - 1 + n_frame) + np.arange(p, n_intr * n_cam, n_intr)
               for p in range(n_intr)]
    # Small problems: a dense Jacobian and the exact trust-region solver converge in ~10
    # steps; LSMR on the sparse one needs many more, so it is kept for large rigs.
    dense = sparsity.shape[0] * sparsity.shape[1] <= 40_000_000

    def jacobian(x: np.ndarray) -> np.ndarray | csr_matrix:
        return _grouped_jacobian(residuals, x, groups, sparsity, dense)

    result = least_squares(residuals, x0, jac=jacobian, loss="huber", f_scale=1.0,
                           x_scale="jac", method="trf", max_nfev=100, ftol=1e-8, xtol=1e-8,
                           tr_options={} if dense else {"atol": 1e-12, "btol": 1e-12})
    ext, brd, itr = unpack(result.x)
    for c, cam in enumerate(cams):
        if c > 0:
            cam.rvec, cam.tvec = ext[c, :3].copy(), ext[c, 3:].copy()
        full = base_intr[c].copy()
        full[:n_intr] = itr[c]
        cam.matrix = np.array([[full[0], 0, full[2]], [0, full[1], full[3]], [0, 0, 1]])
        cam.dist = full[4:9].copy()
    return brd


def _grouped_jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                      groups: list[np.ndarray], sparsity: csc_matrix, dense: bool
                      ) -> np.ndarray | csr_matrix:
    """Forward differences, one evaluation per group of columns that share no residual."""
    f0 = fun(x)
    data, rows, cols = [], [], []
    for group in groups:
        if group.size == 0:
            continue
        h = 1.5e-8 * np.maximum(1.0, np.abs(x[group]))
        xh = x.copy()
        xh[group] += h
        df = fun(xh) - f0
        for j, hj in zip(group, h, strict=True):
            r = sparsity.indices[sparsity.indptr[j]:sparsity.indptr[j + 1]]
            rows.append(r)
            cols.append(np.full(r.size, j))
            data.append(df[r] / hj)
    jac = coo_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                     shape=sparsity.shape)
    return jac.toarray() if dense else jac.tocsr()


def _intr_vector(cam: Camera) -> np.ndarray:
    m = cam.matrix
    return np.concatenate([[m[0, 0], m[1, 1], m[0, 2], m[1, 2]], cam.dist[:5]])


def _project_obs(ext: np.ndarray, brd: np.ndarray, intr: np.ndarray, obs: _Obs) -> np.ndarray:
    world = rotate(brd[obs.frame, :3], obs.obj) + brd[obs.frame, 3:]
    cam = rotate(ext[obs.cam, :3], world) + ext[obs.cam, 3:]
    norm = cam[:, :2] / cam[:, 2:3]
    k = intr[obs.cam]
    x, y = norm[:, 0], norm[:, 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k[:, 4] + r2 * (k[:, 5] + r2 * k[:, 8]))
    xd = x * radial + 2 * k[:, 6] * x * y + k[:, 7] * (r2 + 2 * x * x)
    yd = y * radial + k[:, 6] * (r2 + 2 * y * y) + 2 * k[:, 7] * x * y
    return np.stack([k[:, 0] * xd + k[:, 2], k[:, 1] * yd + k[:, 3]], axis=1)


def _sparsity(obs: _Obs, n_cam: int, n_frame: int, n_intr: int) -> coo_matrix:
    m = obs.cam.size
    rows, cols = [], []
    residual_rows = np.arange(2 * m).reshape(m, 2)
    for r in range(2):
        rr = residual_rows[:, r]
        ext = obs.cam > 0
        for p in range(6):
            rows.append(rr[ext])
            cols.append(6 * (obs.cam[ext] - 1) + p)
            rows.append(rr)
            cols.append(6 * (n_cam - 1) + 6 * obs.frame + p)
        for p in range(n_intr):
            rows.append(rr)
            cols.append(6 * (n_cam - 1 + n_frame) + n_intr * obs.cam + p)
    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    n_params = 6 * (n_cam - 1 + n_frame) + n_intr * n_cam
    return coo_matrix((np.ones(rows_a.size), (rows_a, cols_a)), shape=(2 * m, n_params))


def _errors(cams: list[Camera], boards: np.ndarray, obs: _Obs) -> np.ndarray:
    ext = np.array([np.concatenate([c.rvec, c.tvec]) for c in cams])
    intr = np.array([np.concatenate([_intr_vector(c), np.zeros(4)])[:9] for c in cams])
    return np.linalg.norm(_project_obs(ext, boards, intr, obs) - obs.img, axis=1)


def _diagnostic(cam: Camera, c: int, boards: np.ndarray, obs: _Obs, errors: np.ndarray,
                stats: dict, background: tuple[int, np.ndarray] | None, objp: np.ndarray,
                dets: dict[int, Detection]) -> np.ndarray:
    w, h = cam.size
    if background is None:
        image, frame = np.full((h, w, 3), 60, np.uint8), None
    else:
        frame, image = background[0], background[1].copy()
    mine = obs.cam == c
    for x, y in obs.img[mine]:
        cv2.circle(image, (int(round(x)), int(round(y))), 2, (170, 170, 170), -1)
    frame_pos = {f: k for k, (f, _) in enumerate(obs.frame_ids)}
    if frame in frame_pos and frame in dets:
        det = dets[frame]
        board = boards[frame_pos[frame]]
        world = rotate(board[:3], objp[det.ids]) + board[3:]
        cam_pts = world @ cam.rotation.T + cam.tvec
        proj = distort(cam_pts[:, :2] / cam_pts[:, 2:3], cam.dist)
        proj = proj @ cam.matrix[:2, :2].T + cam.matrix[:2, 2]
        for (x, y), (u, v) in zip(det.corners_px, proj, strict=True):
            cv2.circle(image, (int(round(x)), int(round(y))), 6, (0, 200, 0), 2)
            cv2.drawMarker(image, (int(round(u)), int(round(v))), (0, 0, 255),
                           cv2.MARKER_CROSS, 10, 2)
    text = (f"{cam.name}: median {stats['median']:.2f} px, mean {stats['mean']:.2f} px, "
            f"{stats['n_frames']} frames, {stats['n_corners']} corners")
    scale = max(w / 1600, 0.5)
    cv2.putText(image, text, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0), int(4 * scale) + 1, cv2.LINE_AA)
    cv2.putText(image, text, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), int(2 * scale) + 0, cv2.LINE_AA)
    cv2.putText(image, "green o detected, red + reprojected, grey: every corner used",
                (10, int(65 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.8, (255, 255, 255),
                max(int(2 * scale), 1), cv2.LINE_AA)
    return image

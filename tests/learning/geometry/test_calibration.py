import numpy as np
import pytest

from learning.geometry.board import Detection, object_points
from learning.geometry.calibration import CalibrationError, calibrate, calibrate_detections
from learning.geometry.calibration_toml import (
    CalibrationFileError,
    load_calibration_toml,
    save_calibration_toml,
)
from learning.geometry.camera import project, rotate
from learning.geometry.synthetic import random_board_poses


@pytest.fixture(scope="module")
def calibrated(small_board, board_videos):
    return calibrate(small_board, board_videos)


def _relative(cam, ref) -> tuple[np.ndarray, np.ndarray]:
    r = cam.rotation @ ref.rotation.T
    return r, cam.tvec - r @ ref.tvec


def test_rendered_board_videos_calibrate_to_the_true_rig(calibrated, board_rig) -> None:
    assert [c.name for c in calibrated.cameras] == [c.name for c in board_rig]
    for truth, est in zip(board_rig, calibrated.cameras, strict=True):
        stats = calibrated.reprojection[truth.name]
        assert stats["median"] < 0.3 and stats["n_frames"] >= 14 and stats["n_corners"] > 500
        assert np.allclose(np.diag(est.matrix)[:2], np.diag(truth.matrix)[:2], rtol=0.01)
        r_true, t_true = _relative(truth, board_rig[0])
        angle = np.degrees(np.arccos(np.clip((np.trace(r_true.T @ est.rotation) - 1) / 2, -1, 1)))
        assert angle < 0.5
        assert np.linalg.norm(est.tvec - t_true) < 0.01 * 550  # 1 % of the baseline


def test_diagnostic_image_per_camera(calibrated, board_rig) -> None:
    for cam in board_rig:
        image = calibrated.diagnostics[cam.name]
        assert image.shape == (cam.size[1], cam.size[0], 3)
        red = (image[..., 2] > 200) & (image[..., 1] < 60) & (image[..., 0] < 60)
        green = (image[..., 1] > 150) & (image[..., 2] < 60) & (image[..., 0] < 60)
        assert red.sum() > 100 and green.sum() > 100  # reprojected and detected corners


def _detections(board, cams, poses, drop=None) -> dict[str, dict[int, Detection]]:
    """Exact corners of every pose in every camera (``drop(camera, frame)`` hides some)."""
    objp = object_points(board)
    out = {}
    for c, cam in enumerate(cams):
        out[cam.name] = {}
        for f, pose in enumerate(poses):
            if drop and drop(c, f):
                continue
            px = project(cam, rotate(pose[:3], objp) + pose[3:])
            out[cam.name][f] = Detection(np.arange(len(objp)), px)
    return out


def test_exact_corners_give_zero_error(small_board, board_rig) -> None:
    poses = random_board_poses(small_board, 10, seed=5, max_tilt_deg=40)
    sizes = {c.name: c.size for c in board_rig}
    result = calibrate_detections(small_board, _detections(small_board, board_rig, poses), sizes)
    assert max(r["median"] for r in result.reprojection.values()) < 0.01


def test_a_camera_seeing_the_board_too_rarely_is_refused(small_board, board_rig) -> None:
    poses = random_board_poses(small_board, 10, seed=5, max_tilt_deg=40)
    dets = _detections(small_board, board_rig, poses, drop=lambda c, f: c == 1 and f > 2)
    with pytest.raises(CalibrationError, match="camera cam1 sees the board in 3 frame"):
        calibrate_detections(small_board, dets, {c.name: c.size for c in board_rig})


def test_a_camera_linked_to_no_other_is_refused(small_board, board_rig) -> None:
    poses = random_board_poses(small_board, 16, seed=5, max_tilt_deg=40)
    # cam2 sees the board only in frames where no other camera does
    dets = _detections(small_board, board_rig, poses,
                       drop=lambda c, f: (c == 2) != (f >= 8))
    with pytest.raises(CalibrationError, match=r"cam2 share fewer than 3 .*linked to no other"):
        calibrate_detections(small_board, dets, {c.name: c.size for c in board_rig})


def test_too_high_reprojection_error_is_refused(small_board, board_rig) -> None:
    poses = random_board_poses(small_board, 10, seed=5, max_tilt_deg=40)
    dets = _detections(small_board, board_rig, poses)
    rng = np.random.default_rng(0)
    for frames in dets.values():
        for det in frames.values():
            det.corners_px = det.corners_px + rng.normal(0, 3.0, det.corners_px.shape)
    with pytest.raises(CalibrationError, match="reprojection error too high"):
        calibrate_detections(small_board, dets, {c.name: c.size for c in board_rig},
                             max_median_px=1.0)


def test_unreadable_video_is_refused(small_board, tmp_path) -> None:
    bad = tmp_path / "a.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(CalibrationError, match="camera a: cannot open"):
        calibrate(small_board, {"a": bad, "b": bad})


def test_calibration_toml_round_trip(rig, tmp_path) -> None:
    path = save_calibration_toml(rig, tmp_path / "calibration.toml",
                                 {"adjusted": True, "error": 0.25, "board": 'my "board"'})
    back = load_calibration_toml(path)
    for a, b in zip(rig, back, strict=True):
        assert a.name == b.name and a.size == b.size
        for field in ("matrix", "dist", "rvec", "tvec"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
    text = path.read_text()
    assert "[cam_3]" in text and "distortions = [" in text and "[metadata]" in text


def test_anipose_calibration_toml_is_read(tmp_path) -> None:
    """The layout aniposelib's CameraGroup.dump writes (trailing commas, [metadata])."""
    path = tmp_path / "calibration.toml"
    path.write_text(
        '[cam_0]\nname = "A"\nsize = [ 1280, 1024,]\n'
        "matrix = [ [ 900.0, 0.0, 640.0,], [ 0.0, 900.0, 512.0,], [ 0.0, 0.0, 1.0,],]\n"
        "distortions = [ -0.2, 0.1, 0.0, 0.0, 0.0,]\nrotation = [ 0.0, 0.0, 0.0,]\n"
        "translation = [ 0.0, 0.0, 0.0,]\n\n"
        '[cam_1]\nname = "B"\nsize = [ 1280, 1024,]\n'
        "matrix = [ [ 900.0, 0.0, 640.0,], [ 0.0, 900.0, 512.0,], [ 0.0, 0.0, 1.0,],]\n"
        "distortions = [ -0.2, 0.1, 0.0, 0.0, 0.0,]\nrotation = [ 0.0, 1.5, 0.0,]\n"
        "translation = [ -300.0, 0.0, 300.0,]\n\n[metadata]\nadjusted = false\nerror = 0.4\n")
    cams = load_calibration_toml(path)
    assert [c.name for c in cams] == ["A", "B"] and cams[1].tvec[0] == -300.0


def test_broken_calibration_toml_is_refused(tmp_path) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text('[cam_0]\nname = "A"\nsize = [1, 2]\n')
    with pytest.raises(CalibrationFileError, match=r"\[cam_0\] has no 'matrix'"):
        load_calibration_toml(path)
    with pytest.raises(CalibrationFileError, match="not found"):
        load_calibration_toml(tmp_path / "missing.toml")


def test_checkerboards_seen_from_opposite_sides_calibrate(tmp_path, board_rig) -> None:
    """A checkerboard's corner order depends on the side it is seen from (half a turn): the
    cameras on the far side of the ring number it the other way round, and calibration
    renumbers them per frame instead of failing."""
    from learning.geometry.board import Board
    from learning.geometry.synthetic import render_board_videos

    board = Board("checkerboard", (7, 9), 30.0)
    poses = random_board_poses(board, 16, seed=2, max_tilt_deg=40)
    result = calibrate(board, render_board_videos(board, board_rig, poses, tmp_path))
    assert max(r["median"] for r in result.reprojection.values()) < 0.3
    for truth, est in zip(board_rig, result.cameras, strict=True):
        r_true, t_true = _relative(truth, board_rig[0])
        assert np.linalg.norm(est.tvec - t_true) < 0.01 * 550

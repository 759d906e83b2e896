"""3D on the real stack: a PI calibrates a rig from board recordings and triangulates a
session in the worker, downloads the 3D table and looks at it in the browser — all over HTTP.

Synthetic rig (learning.geometry.synthetic): board recordings rendered through known cameras,
a walking animal's known 3D keypoints projected into each view as the views' 2D poses. The
calibration's world is its first camera's, not the synthetic one, so the check is on what a
rigid change of frame keeps: distances between body parts (mm) and reprojection errors.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from learning.formats.pose_table import write_pose_table
from learning.geometry import synthetic
from learning.geometry.board import load_board
from poseloop.loop_client import wait_for
from tests.system.conftest import PI_PASSWORD, log_in
from videos.synthetic import generate_video

pytestmark = [pytest.mark.system]

BOARD_TOML = """board_type = "charuco"
board_size = [7, 9]
board_square_side_length = 30.0
board_marker_length = 22.0
board_marker_bits = 4
board_marker_dict_number = 50
"""
N_FRAMES = 24
RETRAIN_AFTER = 6


def _distances(points: np.ndarray) -> np.ndarray:
    """(F, K, K) distances between every two body parts in every frame."""
    return np.linalg.norm(points[:, :, None] - points[:, None], axis=-1)


def test_pi_calibrates_a_rig_and_triangulates_a_session(live, browser, tmp_path):
    pi = live.pi
    project = pi.create_project(
        "rig-3d", [{"name": b} for b in synthetic.BODYPARTS],
        [list(e) for e in synthetic.EDGES], [], retrain_after_labels=RETRAIN_AFTER,
        queue_size=12, input_scale=1.0)
    pid = project["id"]
    cams = synthetic.ring_rig(3, radius=300, height=400, size=(640, 512), focal=600,
                              dist=(-0.15, 0.05, 0, 0, 0), seed=1)
    rig = pi.post(f"projects/{pid}/rigs/", {"name": "ring", "cameras": [c.name for c in cams],
                                           "board_toml": BOARD_TOML}, expect=(201,))

    # calibration from board recordings, in the worker
    board = load_board(BOARD_TOML)
    videos = synthetic.render_board_videos(
        board, cams, synthetic.random_board_poses(board, 16, seed=2, max_tilt_deg=40),
        tmp_path / "board")
    files = {name: (path.name, path.read_bytes(), "video/x-msvideo")
             for name, path in videos.items()}
    started = pi.call("POST", f"projects/{pid}/rigs/{rig['id']}/calibrations/", (202,),
                      files=files).json()
    pi.wait_job(pid, started["job"]["id"], timeout_s=300)
    cal = pi.get(f"projects/{pid}/rigs/{rig['id']}/")["calibration"]
    assert cal["status"] == "ready"
    assert all(cal["reprojection_px"][c.name]["median"] < 0.5 for c in cams), cal
    image = pi.call("GET", cal["images"][cams[0].name].removeprefix("/api/"))
    assert image.content[:4] == b"\x89PNG"

    # a session: one video per camera, 2D poses uploaded per view
    truth = synthetic.walking_animal(N_FRAMES, seed=4)
    views = {}
    for i, cam in enumerate(cams):
        clip = tmp_path / f"{cam.name}.mp4"
        generate_video(clip, n_frames=N_FRAMES, seed=10 + i)
        views[cam.name] = pi.upload_video(pid, clip)["id"]
    session = pi.post(f"projects/{pid}/sessions/", {"name": "day1", "rig": rig["id"],
                                                    "views": views}, expect=(201,))
    sid = session["id"]
    for cam, pts in zip(cams, synthetic.render_points(cams, truth, noise_px=0.3, seed=5),
                        strict=True):
        h5, _ = write_pose_table(tmp_path / f"poses-{cam.name}", "synthetic",
                                 synthetic.BODYPARTS,
                                 np.concatenate([pts, np.ones((*pts.shape[:2], 1))], axis=-1))
        pi.call("POST", f"projects/{pid}/sessions/{sid}/views/{cam.name}/poses/", (200,),
                files={"file": (h5.name, h5.read_bytes(), "application/x-hdf5")})

    # triangulation with reprojection videos, in the worker
    started = pi.post(f"projects/{pid}/sessions/{sid}/triangulate/", {"videos": True},
                      expect=(202,))
    pi.wait_job(pid, started["job"]["id"], timeout_s=300)
    tri = pi.get(f"projects/{pid}/sessions/{sid}/triangulations/"
                 f"{started['triangulation']['id']}/")
    assert tri["frames"] == N_FRAMES
    assert all(r["median"] < 1.0 for r in tri["reprojection_px"].values()), tri
    assert {f"{c.name}_reprojected.mp4" for c in cams} <= set(tri["downloads"])

    # the downloaded 3D table, read back by movement, has the animal's true shape
    from movement.io import load_poses

    table = tmp_path / "points3d.h5"
    table.write_bytes(pi.call("GET", tri["downloads"]["points3d.h5"].removeprefix("/api/"))
                      .content)
    ds = load_poses.from_dlc_file(table)
    got = ds.position.isel(individuals=0).transpose("time", "keypoints", "space").values
    assert got.shape == truth.shape
    error = np.abs(_distances(got) - _distances(truth))
    assert np.median(error) < 1.0 and np.percentile(error, 95) < 3.0  # mm, 0.3 px 2D noise
    csv = pi.call("GET", tri["downloads"]["points3d.csv"].removeprefix("/api/")).text
    assert "x" in io.StringIO(csv).readlines()[2]

    # a model trained on one view's labels becomes current: the worker scores the session's
    # views for 3D disagreement (a score_3d job on the inference queue)
    ids = [bp["id"] for bp in project["skeleton"]["bodyparts"]]
    first = cams[0]
    extract = pi.post(f"projects/{pid}/videos/{views[first.name]}/extract/",
                      {"strategy": "uniform", "n": 8}, expect=(202,))
    pi.wait_job(pid, extract["id"], timeout_s=120)
    in_view = synthetic.render_points([first], truth)[0] / 4  # 640 x 512 rig -> 160 x 120 clip
    for _ in range(RETRAIN_AFTER):
        leased = pi.lease(pid)
        assert leased is not None
        xy = np.clip(in_view[leased["frame"]["frame_index"]], 1, 118)
        pi.submit(pid, leased, [{"bodypart": b, "x": float(x), "y": float(y),
                                 "state": "visible"} for b, (x, y) in zip(ids, xy, strict=True)])
    train = wait_for("a training job", lambda: pi.jobs(pid, "train"), timeout_s=30)
    pi.wait_job(pid, train[0]["id"], timeout_s=300)
    scored = wait_for("a 3D scoring job", lambda: pi.jobs(pid, "score_3d"), timeout_s=60)
    done = pi.wait_job(pid, scored[0]["id"], timeout_s=300)
    assert done["params"]["version_id"] == pi.current_model(pid)["id"]

    # the session page's 3D viewer draws it
    context, page, errors = log_in(browser, live, "pi", PI_PASSWORD,
                                   f"/projects/{pid}/cameras/sessions/{sid}/")
    try:
        page.wait_for_selector("#viewer[data-ready=true]")
        assert page.locator("#viewer .gl-container, #viewer canvas").count() >= 1
        assert page.get_attribute("#viewer", "data-frames") == str(N_FRAMES)
        page.fill("#frame", "5")
        page.dispatch_event("#frame", "input")
        wait_for("the frame number to follow the slider",
                 lambda: page.inner_text("#frame-number") == "5", 10)
        assert errors == []
    finally:
        context.close()

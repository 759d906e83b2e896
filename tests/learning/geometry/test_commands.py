"""The calibrate and triangulate management commands: files written, last line JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from movement.io import load_poses

from learning.formats.pose_table import write_pose_table
from learning.geometry.calibration_toml import load_calibration_toml, save_calibration_toml
from learning.geometry.synthetic import BODYPARTS, render_points


def _run(*args: str) -> tuple[list[str], dict]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return lines, json.loads(lines[-1])


def test_calibrate_command(tmp_path, small_board, board_videos, board_rig) -> None:
    board = tmp_path / "board.toml"
    board.write_text('board_x = 7\nboard_y = 9\nsquare_length = 30.0\nmarker_length = 22.0\n'
                     'marker_bits = 4\ndict_size = 50\n')
    out = tmp_path / "rig" / "calibration.toml"
    lines, summary = _run("calibrate", "--board", str(board), "--out", str(out),
                          *[f"{n}={p}" for n, p in board_videos.items()])
    assert any("bundle adjustment" in line for line in lines[:-1])  # progress first
    assert summary["cameras"] == ["cam0", "cam1", "cam2"]
    for name in summary["cameras"]:
        assert summary["reprojection_px"][name]["median"] < 0.3
        assert summary["reprojection_px"][name]["mean"] < 0.5
        assert (out.parent / f"calibration-{name}.png").is_file()
    assert [c.name for c in load_calibration_toml(out)] == summary["cameras"]


def test_calibrate_command_refuses_bad_input(tmp_path, board_videos) -> None:
    board = tmp_path / "board.toml"
    board.write_text("board_x = 7\n")
    with pytest.raises(CommandError, match="expected NAME=VIDEO"):
        call_command("calibrate", "--board", str(board), "--out", str(tmp_path / "c.toml"),
                     "just-a-path")
    with pytest.raises(CommandError, match="Calibration refused: board is missing 'board_y'"):
        call_command("calibrate", "--board", str(board), "--out", str(tmp_path / "c.toml"),
                     *[f"{n}={p}" for n, p in board_videos.items()])
    assert not (tmp_path / "c.toml").exists()


def test_triangulate_command_from_pose_tables(tmp_path, rig, animal) -> None:
    cal = save_calibration_toml(rig, tmp_path / "calibration.toml")
    pts = render_points(rig, animal, noise_px=1.0, seed=2)
    args = []
    for c, cam in enumerate(rig):
        poses = np.concatenate([pts[c], np.full((*pts.shape[1:3], 1), 0.9)], axis=-1)
        h5, _ = write_pose_table(tmp_path / f"{cam.name}DLC", "DLC_test", BODYPARTS, poses)
        args.append(f"{cam.name}={h5}")
    out = tmp_path / "out"
    lines, summary = _run("triangulate", "--calibration", str(cal), "--out", str(out), *args)
    assert summary["frames"] == len(animal)
    assert set(summary["reprojection_px"]) == {c.name for c in rig}
    for stats in summary["reprojection_px"].values():
        assert 0.3 < stats["median"] < 1.5 and stats["mean"] < 2.0
    ds = load_poses.from_dlc_file(out / "points3d.h5")
    position = ds.position.isel(individuals=0).transpose("time", "keypoints", "space").values
    assert position.shape == animal.shape
    assert np.sqrt(np.mean(np.sum((position - animal) ** 2, axis=-1))) < 1.5  # mm


def test_triangulate_command_refuses_unknown_cameras(tmp_path, rig) -> None:
    cal = save_calibration_toml(rig, tmp_path / "calibration.toml")
    table = tmp_path / "x.h5"
    write_pose_table(tmp_path / "x", "s", ["a"], np.zeros((2, 1, 3)))
    with pytest.raises(CommandError, match="camera.s. nope are not in the calibration"):
        call_command("triangulate", "--calibration", str(cal), "--out", str(tmp_path / "o"),
                     f"nope={table}", f"cam0={table}")

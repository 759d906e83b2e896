"""How well 3D consistency finds a wrong view (`bench views3d`), without training.

On a multi-camera session with proofread 2D poses in every view (mouse-4cam), `--wrong`
random (frame, camera) pairs per trial get every point of that view moved by `--shift` px in
a random direction; `learning.selection.views3d` then chooses `--wrong` frames (spread by
`--gap` frames) and blames a view in each. Reported per shift: the share of chosen frames
that were corrupted (frame precision) and the share of corrupted frames where the blamed view
is the moved one (view attribution), with the attribution of the worst leave-one-out view
(`view_disagreement`'s argmax) beside it. The rig is calibrated from its board recordings
(or `--calibration` reuses a calibration.toml).
"""

from __future__ import annotations

import tempfile
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from learning.formats.view_poses import read_view_poses
from learning.geometry.calibration_toml import load_calibration_toml
from learning.geometry.consistency import view_disagreement
from learning.geometry.session import calibrate_files
from learning.selection.views3d import disagreeing_views, pick_frames, score_views


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--session", required=True,
                        help="Session folder: board.toml and one folder per camera with its "
                             "board recording (*calibration*) and poses (.slp/.h5), as "
                             "mouse-4cam.")
    parser.add_argument("--calibration", help="A calibration.toml to use instead of "
                                              "calibrating from the board recordings.")
    parser.add_argument("--shifts", default="10,15,20,30", help="Shifts in px, comma-separated.")
    parser.add_argument("--wrong", type=int, default=20, help="Corrupted views per trial.")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--gap", type=int, default=1, help="Minimum frames between choices.")


def _files(root: Path) -> dict[str, dict[str, Path]]:
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        board = [p for p in folder.iterdir() if "calibration" in p.name.lower()]
        poses = [p for p in folder.iterdir() if p.suffix.lower() in (".slp", ".h5")]
        if len(board) != 1 or len(poses) != 1:
            raise ValueError(f"{folder}: need one board recording and one pose file")
        out[folder.name] = {"board": board[0], "poses": poses[0]}
    return out


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    root = Path(options["session"])
    files = _files(root)
    names = list(files)
    with tempfile.TemporaryDirectory() as tmp:
        toml = options.get("calibration")
        if not toml:
            stdout.write(f"calibrating {', '.join(names)} from the board recordings\n")
            toml = calibrate_files(root / "board.toml", {n: f["board"] for n, f in files.items()},
                                   Path(tmp) / "calibration.toml")["calibration"]
        by_name = {c.name: c for c in load_calibration_toml(toml)}
    cameras = [by_name[n] for n in names]
    views = [read_view_poses(files[n]["poses"]).points for n in names]
    n_frames = min(len(v) for v in views)
    truth = np.stack([v[:n_frames] for v in views])
    results: dict[str, Any] = {}
    start = time.perf_counter()
    for shift in (float(s) for s in options["shifts"].split(",")):
        chosen_ok = blamed_ok = worst_ok = total = 0
        for trial in range(options["trials"]):
            rng = np.random.default_rng(trial)
            pts = truth.copy()
            frames = rng.choice(n_frames, options["wrong"], replace=False)
            wrong = dict(zip(frames.tolist(), rng.integers(0, len(names), len(frames)).tolist(),
                             strict=True))
            for t, c in wrong.items():
                angle = rng.uniform(0, 2 * np.pi)
                pts[c, t] += shift * np.array([np.cos(angle), np.sin(angle)])
            poses = np.concatenate([pts, np.isfinite(pts[..., :1]).astype(float)], axis=-1)
            frame_scores, blame, px = score_views(cameras, poses)
            _, loo = view_disagreement(cameras, pts)
            eligible = np.array([frame_scores[f] if disagreeing_views(blame[:, f], px[:, f])
                                 else np.nan for f in range(n_frames)])
            picked = pick_frames(np.arange(n_frames), eligible, len(wrong), options["gap"])
            chosen_ok += sum(f in wrong for f in picked)
            for t, c in wrong.items():
                blamed = disagreeing_views(blame[:, t], px[:, t])
                blamed_ok += bool(blamed) and blamed[0] == c
                worst_ok += int(np.nanargmax(loo[:, t])) == c
            total += len(wrong)
        results[f"{shift:g}px"] = {"frame_precision": round(chosen_ok / total, 3),
                                   "view_attribution": round(blamed_ok / total, 3),
                                   "worst_leave_one_out_attribution": round(worst_ok / total, 3)}
        stdout.write(f"shift {shift:g} px: {results[f'{shift:g}px']}\n")
    return {"benchmark": "views3d", "session": root.name, "cameras": names, "frames": n_frames,
            "wrong_per_trial": options["wrong"], "trials": options["trials"],
            "results": results, "seconds": round(time.perf_counter() - start, 1)}

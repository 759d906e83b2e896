"""Loop latency on the real stack: from the label that triggers a retrain to a refilled queue.

Starts gunicorn, a Celery worker and beat (`poseloop.stack`, as `make run` does) on a fresh
var dir, builds a project over HTTP, trains a first model, then an annotator submits labels
until the retrain threshold is reached. Printed: seconds from that last label to the training
job's start and end, the new model becoming current, the scoring job's end and the queue
holding frames chosen by the new model; and the overhead, everything beyond the training
job's own fit (`training_seconds`).

Two projects: the demo's synthetic video (default), or a DeepLabCut project folder (`--dlc`,
e.g. openfield: its labeled-data is imported as a zip through the API and its videos are
uploaded; the annotator re-labels imported frames with their stored points).
"""

from __future__ import annotations

import io
import tempfile
import time
import uuid
import zipfile
from argparse import ArgumentParser
from datetime import datetime
from pathlib import Path
from typing import Any

from poseloop.loop_client import Client, sign_up, wait_for
from poseloop.stack import Stack, free_port, isolated_services, manage

PI_PASSWORD = "bench-pi-pass-9"
ANNOTATOR_PASSWORD = "bench-annotator-pass-9"
DEMO = {"width": 320, "height": 240, "seed": 7, "n_frames": 300, "extract": 24}


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--dlc", help="A DeepLabCut project folder (default: the demo video).")
    parser.add_argument("--labels", type=int, default=8,
                        help="Retrain threshold: labels submitted in the measured round.")
    parser.add_argument("--minutes", type=float, default=0.5,
                        help="Training budget of each model (POSELOOP_TRAIN_MINUTES).")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="Seconds to wait for any one step.")


def run(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    if options["labels"] < 1 or options["minutes"] <= 0:
        raise ValueError("--labels and --minutes must be positive")
    if options["dlc"] and not (Path(options["dlc"]) / "labeled-data").is_dir():
        raise ValueError(f"{options['dlc']} has no labeled-data/ folder")
    with tempfile.TemporaryDirectory(prefix="poseloop-bench-loop-") as tmp:
        var_dir = Path(tmp)
        with isolated_services(var_dir, name="poseloop_bench_loop") as env:
            env["POSELOOP_TRAIN_MINUTES"] = str(options["minutes"])
            manage(["migrate", "--noinput"], env)
            manage(["shell", "-c", "from django.contrib.auth import get_user_model; "
                    f"get_user_model().objects.create_user('pi', password='{PI_PASSWORD}')"], env)
            stack = Stack(var_dir=var_dir, port=free_port(), env=env,
                          concurrency=options["concurrency"], log_dir=var_dir / "logs")
            stdout.write(f"starting the stack in {var_dir} …\n")
            try:
                stack.start(wait_s=180)
                return _measure(stack, options, stdout)
            except Exception:
                stdout.write(stack.log_tail(40) + "\n")
                raise
            finally:
                stack.stop()


def _measure(stack: Stack, options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    timeout = options["timeout"]
    pi = Client.login(stack.url, "pi", PI_PASSWORD)
    if options["dlc"]:
        pid, labels = _dlc_project(pi, Path(options["dlc"]), stdout)
        oracle = _stored_points(pi, pid, labels)
    else:
        pid = _demo_project(pi, stdout, timeout)
        oracle = _demo_points(pi, pid)
    sign_up(pi.invite(pid, "annotator"), "annotator", ANNOTATOR_PASSWORD)
    annotator = Client.login(stack.url, "annotator", ANNOTATOR_PASSWORD)
    frames = list(oracle)
    if not options["dlc"]:  # the demo has no labels yet: the first model's come first
        first_frames, frames = frames[:-options["labels"]], frames[-options["labels"]:]
        _submit_labels(annotator, pid, {f: oracle[f] for f in first_frames})

    stdout.write(f"training the first model ({options['minutes']} min) …\n")
    # 409: an import already started one (its labels reached the default threshold).
    pi.post(f"projects/{pid}/models/train/", {}, expect=(201, 202, 409))
    first = wait_for("the first model", lambda: pi.current_model(pid), timeout)
    _wait_idle(pi, pid, timeout)

    pi.call("PATCH", f"projects/{pid}/", json={"retrain_after_labels": options["labels"]})
    stdout.write(f"submitting {options['labels']} labels …\n")
    measured = {f: oracle[f] for f in (frames * options["labels"])[:options["labels"]]}
    last_label_at = _submit_labels(annotator, pid, measured)
    return _timeline(pi, pid, last_label_at, first["id"], timeout, options, stdout)


def _timeline(pi: Client, pid: int, t0: float, first_version: int, timeout: float,
              options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    """Seconds after the last label (t0, wall clock) at which each step of the loop happened."""
    train = wait_for("the label-triggered training job",
                     lambda: [j for j in pi.jobs(pid, "train")
                              if j["params"].get("trigger") == "labels"], timeout)[0]
    train = pi.wait_job(pid, train["id"], timeout)
    version = pi.get(f"projects/{pid}/models/{train['result']['version_id']}/")
    current = wait_for("the new model to become current",
                       lambda: _is_current(pi, pid, version["id"]), timeout, every_s=0.1)
    stdout.write(f"model #{version['iteration']} is current; waiting for the queue …\n")
    score = wait_for("its scoring job", lambda: [j for j in pi.jobs(pid, "score")
                                                 if j["params"].get("version_id")
                                                 == version["id"]], timeout)[0]
    score = pi.wait_job(pid, score["id"], timeout)
    refilled = wait_for("frames chosen by the new model in the queue",
                        lambda: _refilled(pi, pid, version["id"]), timeout, every_s=0.1)

    def after(stamp: str) -> float:
        return round(_stamp(stamp).timestamp() - t0, 2)

    total = round(refilled - t0, 2)
    fit = float(version["training_seconds"] or 0.0)
    return {
        "project": "dlc:" + Path(options["dlc"]).name if options["dlc"] else "demo",
        "labels": options["labels"], "train_minutes": options["minutes"],
        "n_labeled_frames": version["n_labeled_frames"],
        "first_version": first_version, "new_version": version["id"],
        "promoted": current is not None,
        "s_to_training_start": after(train["started_at"]),
        "s_to_training_end": after(train["finished_at"]),
        "s_to_model_current": round(current - t0, 2) if current else None,
        "s_to_scoring_end": after(score["finished_at"]),
        "s_to_queue_refilled": total,
        "training_fit_s": round(fit, 2),
        "training_job_s": round(_stamp(train["finished_at"]).timestamp()
                                - _stamp(train["started_at"]).timestamp(), 2),
        "scoring_job_s": round(_stamp(score["finished_at"]).timestamp()
                               - _stamp(score["started_at"]).timestamp(), 2),
        "overhead_s": round(total - fit, 2),
    }


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _is_current(pi: Client, pid: int, version_id: int) -> float | None:
    current = pi.current_model(pid)
    return time.time() if current and current["id"] == version_id else None


def _refilled(pi: Client, pid: int, version_id: int) -> float | None:
    entries = pi.get(f"projects/{pid}/queue/?status=open")["results"]
    return time.time() if any(e["model_version"] == version_id for e in entries) else None


def _wait_idle(pi: Client, pid: int, timeout: float) -> None:
    """Until no job of the project is queued or running (the first model's scoring)."""
    wait_for("the project's jobs to finish", lambda: not pi.get(
        f"projects/{pid}/jobs/?active=1")["results"], timeout, every_s=0.5)


def _submit_labels(annotator: Client, pid: int, points: dict[int, list[dict]]) -> float:
    """Submit one new label per frame, as an annotator's page does; the time of the last."""
    for frame_id, frame_points in points.items():
        body = {"points": frame_points, "version": 0, "seconds_spent": 5.0, "source": "human",
                "request_id": str(uuid.uuid4()), "entry": None, "submit": True}
        annotator.put(f"projects/{pid}/frames/{frame_id}/label/", body)
    return time.time()


def _demo_project(pi: Client, stdout: Any, timeout: float) -> int:
    from videos.synthetic import BODYPARTS, LEFT_RIGHT, SKELETON, generate_video

    project = pi.create_project(
        "Bench loop: synthetic mouse", [{"name": name} for name in BODYPARTS],
        [list(e) for e in SKELETON], [list(p) for p in LEFT_RIGHT], retrain_after_labels=0)
    pid = project["id"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo_mouse.mp4"
        generate_video(path, n_frames=DEMO["n_frames"], width=DEMO["width"],
                       height=DEMO["height"], seed=DEMO["seed"])
        video = pi.upload_video(pid, path)
    stdout.write("extracting frames …\n")
    job = pi.post(f"projects/{pid}/videos/{video['id']}/extract/",
                  {"strategy": "kmeans", "n": DEMO["extract"]}, expect=(202,))
    pi.wait_job(pid, job["id"], timeout)
    return pid


def _demo_points(pi: Client, pid: int) -> dict[int, list[dict]]:
    """Frame id → the synthetic truth of every extracted frame."""
    from videos.synthetic import render_frame

    ids = [bp["id"] for bp in pi.get(f"projects/{pid}/skeleton/")["bodyparts"]]
    oracle = {}
    for frame in pi.get(f"projects/{pid}/frames/")["results"]:
        _, keypoints = render_frame(frame["frame_index"], width=DEMO["width"],
                                    height=DEMO["height"], seed=DEMO["seed"])
        oracle[frame["id"]] = [{"bodypart": b, "x": float(x), "y": float(y), "state": "visible"}
                               for b, (x, y) in zip(ids, keypoints[0], strict=True)]
    return oracle


def _dlc_project(pi: Client, folder: Path, stdout: Any) -> tuple[int, list[dict]]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in [folder / "config.yaml", *sorted((folder / "labeled-data").rglob("*"))]:
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    stdout.write(f"importing {folder.name} ({buffer.tell() / 1e6:.1f} MB zip) …\n")
    summary = pi.call("POST", "projects/import/dlc/", (201,), data={"name": folder.name},
                      files={"file": (f"{folder.name}.zip", buffer.getvalue(),
                                      "application/zip")}).json()
    pid = summary["project"]
    pi.call("PATCH", f"projects/{pid}/", json={"retrain_after_labels": 0})
    for video in sorted((folder / "videos").glob("*")) if (folder / "videos").is_dir() else []:
        stdout.write(f"uploading {video.name} …\n")
        pi.upload_video(pid, video)
    return pid, _all_pages(pi, f"projects/{pid}/labels/")


def _all_pages(pi: Client, path: str) -> list[dict]:
    rows, page = [], 1
    while True:
        data = pi.get(f"{path}?page={page}")
        rows += data["results"]
        if not data["next"]:
            return rows
        page += 1


def _stored_points(pi: Client, pid: int, labels: list[dict]) -> dict[int, list[dict]]:
    """Frame id → the imported label's points (what the annotator types in again)."""
    return {label["frame"]: [{k: p[k] for k in ("bodypart", "x", "y", "state")}
                             for p in label["points"]] for label in labels}

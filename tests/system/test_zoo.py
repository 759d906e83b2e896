"""The model zoo on the real stack, as labs share models: a PI publishes a trained model,
downloads its bundle, imports it back as a new entry (as another server would), starts a new
project from it and analyses a video there with zero labels, all in the worker.

Independent of the other system modules: it makes its own source project and model.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poseloop.loop_client import wait_for
from videos.synthetic import BODYPARTS, LEFT_RIGHT, SKELETON, generate_video, render_frame

pytestmark = [pytest.mark.system]

VIDEO = {"width": 160, "height": 120, "seed": 3, "n_frames": 90}
N_LABELS = 8


def oracle(bodypart_ids: list[int], frame_index: int) -> list[dict]:
    """The true keypoints of a frame of the synthetic video, as the label API takes them."""
    return [{"bodypart": part, "x": float(x), "y": float(y), "state": "visible"}
            for part, (x, y) in zip(bodypart_ids, truth(frame_index), strict=True)]


def truth(frame_index: int) -> np.ndarray:
    """(keypoints, 2) true positions in a frame of the synthetic video."""
    _, keypoints = render_frame(frame_index, width=VIDEO["width"], height=VIDEO["height"],
                                seed=VIDEO["seed"])
    return np.asarray(keypoints[0], dtype=float)


def constant_guess_error() -> float:
    """Median error of the best constant guess (each keypoint's mean over the video)."""
    every = np.stack([truth(i) for i in range(VIDEO["n_frames"])])
    return float(np.median(np.linalg.norm(every - every.mean(axis=0), axis=-1)))


def trained_source_version(pi, video_path: Path) -> dict:
    """A project of the synthetic mouse with N_LABELS oracle labels and a ready model."""
    project = pi.create_project(
        "System zoo source", [{"name": name} for name in BODYPARTS],
        [list(edge) for edge in SKELETON], [list(pair) for pair in LEFT_RIGHT],
        retrain_after_labels=0, input_scale=1.0)
    pid = project["id"]
    parts = [bp["id"] for bp in project["skeleton"]["bodyparts"]]
    video = pi.upload_video(pid, video_path)
    job = pi.post(f"projects/{pid}/videos/{video['id']}/extract/",
                  {"strategy": "uniform", "n": N_LABELS}, expect=(202,))
    pi.wait_job(pid, job["id"], timeout_s=120)
    for _ in range(N_LABELS):
        leased = pi.lease(pid)
        assert leased is not None
        pi.submit(pid, leased, oracle(parts, leased["frame"]["frame_index"]))
    started = pi.post(f"projects/{pid}/models/train/", {"minutes": 0.25}, expect=(202,))
    pi.wait_job(pid, started["job"]["id"], timeout_s=300)
    current = pi.get(f"projects/{pid}/models/current/")
    version = pi.get(f"projects/{pid}/models/{current['id']}/")
    assert version["status"] == "ready", version
    return version


def test_a_published_model_travels_by_bundle_and_analyses_a_new_project_with_no_labels(
        live, tmp_path):
    pi = live.pi
    video_path = Path(tmp_path) / "zoo-mouse.mp4"
    generate_video(video_path, **VIDEO)
    version = trained_source_version(pi, video_path)

    # 1. Publish the ready model.
    published = pi.post("zoo/", {
        "version": version["id"], "name": "System mouse top", "species": "mouse",
        "camera_view": "top", "licence": "CC-BY-4.0", "notes": "synthetic arena",
        "visibility": "site"}, expect=(201,))
    assert published["bodyparts"] == list(BODYPARTS)
    assert sorted(map(sorted, published["skeleton"])) == sorted(map(sorted, SKELETON))
    assert published["n_labels"] == N_LABELS
    assert published["test_rmse_px"] == pytest.approx(version["metrics"]["test_rmse_px"])
    assert published["source_version"] == version["id"]
    found = pi.get("zoo/?species=mou&view=top&bodypart=snout")
    assert published["id"] in [e["id"] for e in found]
    assert published["id"] not in [e["id"] for e in pi.get("zoo/?bodypart=wing")]

    # 2. Its bundle: zoo.json + model.pt, the hash matching.
    response = pi.call("GET", f"zoo/{published['id']}/bundle/")
    assert response.headers["Content-Type"] == "application/zip"
    data = response.content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        meta = json.loads(zf.read("zoo.json"))
        checkpoint = zf.read("model.pt")
    assert meta["format"] == "poseloop-zoo/1" and meta["name"] == "System mouse top"
    assert meta["sha256"] == hashlib.sha256(checkpoint).hexdigest() \
        == published["checkpoint_sha256"]

    # 3. Imported back as a new entry (what a second server does with the file).
    imported = pi.call("POST", "zoo/", (201,), data={"visibility": "site"},
                       files={"bundle": ("mouse.zip", data, "application/zip")}).json()
    assert imported["id"] != published["id"]
    assert imported["checkpoint_sha256"] == published["checkpoint_sha256"]
    assert imported["bodyparts"] == list(BODYPARTS) and imported["source_version"] is None
    # A corrupted bundle is refused and adds nothing.
    before = len(pi.get("zoo/"))
    broken = data.replace(b"poseloop-zoo/1", b"poseloop-zoo/9", 1)
    pi.call("POST", "zoo/", (400,), files={"bundle": ("bad.zip", broken, "application/zip")})
    assert len(pi.get("zoo/")) == before

    # 4. A new project from the imported entry: its body parts, the entry as current model.
    started = pi.post(f"zoo/{imported['id']}/start-project/", {"name": "System zoo mice"},
                      expect=(201,))
    pid, adopted = started["project"], started["version"]
    assert adopted["kind"] == "transferred" and adopted["status"] == "ready"
    project = pi.get(f"projects/{pid}/")
    assert [bp["name"] for bp in project["skeleton"]["bodyparts"]] == list(BODYPARTS)
    assert pi.current_model(pid)["id"] == adopted["id"]
    parts = [bp["id"] for bp in project["skeleton"]["bodyparts"]]
    # The adopted model becoming current queued a scoring in the worker.
    score = wait_for("a scoring job", lambda: pi.jobs(pid, "score"), timeout_s=60)
    job = pi.wait_job(pid, score[0]["id"], timeout_s=300)
    assert job["params"]["version_id"] == adopted["id"]

    # 5. A video, and its analysis with the zoo model: zero labels.
    video = pi.upload_video(pid, video_path)
    analysis_job = pi.post(f"zoo/{imported['id']}/analyse/",
                           {"project": pid, "video": video["id"]}, expect=(202,))
    done = pi.wait_job(pid, analysis_job["id"], timeout_s=300)
    assert done["params"]["version_id"] == adopted["id"]  # reused, not adopted twice
    assert done["result"]["frames"] == VIDEO["n_frames"]
    versions = pi.get(f"projects/{pid}/models/")
    versions = versions["results"] if isinstance(versions, dict) else versions
    assert [v["id"] for v in versions] == [adopted["id"]]
    assert pi.get(f"projects/{pid}/labels/")["count"] == 0

    # The pose table: every frame, the project's body parts, near the synthetic truth.
    from movement.io import load_poses

    analyses = pi.get(f"projects/{pid}/videos/{video['id']}/analyses/")
    assert analyses, "no published analysis"
    h5 = next(name for name in analyses[0]["files"] if name.endswith(".h5"))
    response = pi.call(
        "GET", f"projects/{pid}/videos/{video['id']}/analyses/{analyses[0]['id']}/download/{h5}")
    path = Path(tmp_path) / h5
    path.write_bytes(response.content)
    poses = load_poses.from_dlc_file(path, fps=30)
    assert poses.position.sizes["time"] == VIDEO["n_frames"]
    assert list(poses.keypoints.values) == list(BODYPARTS)
    every = np.stack([truth(i) for i in range(VIDEO["n_frames"])])
    found = poses.position.values[:, :, :, 0].transpose(0, 2, 1)  # (time, keypoints, space)
    error = float(np.nanmedian(np.linalg.norm(found - every, axis=-1)))
    constant = constant_guess_error()
    # Seconds of training on 8 labels (about 10 px on an idle machine); an untrained or
    # wrongly transferred network is no better than the constant guess.
    assert error < 0.6 * constant, (error, constant)

    # 6. The new video was scored in the worker by the project's (adopted) model: its frames
    #    are queued, chosen by that model, and come pre-labeled with its predictions.
    first = job["id"]
    again = wait_for("a scoring job for the new video", lambda: [
        j for j in pi.jobs(pid, "score") if j["id"] != first], timeout_s=60)
    pi.wait_job(pid, again[0]["id"], timeout_s=300)
    queue = pi.get(f"projects/{pid}/queue/?status=open")["results"]
    assert queue and all(e["model_version"] == adopted["id"] for e in queue), queue
    errors = []
    for entry in queue:
        frame = entry["frame"]
        prediction = pi.get(f"projects/{pid}/frames/{frame}/prediction/")
        assert prediction["model_version"] == adopted["id"]
        assert sorted(p["bodypart"] for p in prediction["points"]) == sorted(parts)
        index = pi.get(f"projects/{pid}/frames/{frame}/")["frame_index"]
        true = truth(index)
        for point in prediction["points"]:
            errors.append(np.hypot(point["x"] - true[parts.index(point["bodypart"])][0],
                                   point["y"] - true[parts.index(point["bodypart"])][1]))
    assert np.median(errors) < 0.6 * constant, (np.median(errors), constant)

    # 7. The lab labels a few of those frames and trains: the worker's training starts from
    #    the adopted zoo model (recorded as the new version's parent), the project's input
    #    scale having come with the zoo model.
    for _ in range(6):
        leased = pi.lease(pid)
        assert leased is not None
        pi.submit(pid, leased, oracle(parts, leased["frame"]["frame_index"]))
    started = pi.post(f"projects/{pid}/models/train/", {"minutes": 0.25}, expect=(202,))
    pi.wait_job(pid, started["job"]["id"], timeout_s=300)
    trained = pi.get(f"projects/{pid}/models/{started['version']['id']}/")
    assert trained["status"] == "ready", trained
    assert trained["parent"] == adopted["id"], trained

    # 8. Another lab names the same points the SLEAP way: adopting the entry with no mapping
    #    still starts every head from the zoo model (the side read from "_L"/"_R", snout = nose).
    sleap_names = ["Nose", "Ear_L", "Ear_R", "Tail_Base"]
    other = pi.create_project("System zoo, SLEAP names", [{"name": n} for n in sleap_names],
                              [], [["Ear_L", "Ear_R"]], retrain_after_labels=0, input_scale=1.0)
    named = pi.post(f"projects/{other['id']}/models/adopt/", {"zoo_entry": imported["id"]},
                    expect=(201,))
    assert named["status"] == "ready" and named["metrics"]["transfer"]["fresh"] == [], named
    assert named["metrics"]["transfer"]["matched"] == dict(zip(sleap_names, BODYPARTS,
                                                               strict=True))

"""The whole loop on the real stack, as a lab runs it: every step over HTTP or in Chromium.

The steps share one stack and run in order; each waits with a timeout and a failing one
prints the stack's logs (conftest.py). Budgets are small (seconds of training) so the module
takes a few minutes on two cores.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poseloop.loop_client import Client, sign_up, wait_for
from tests.system.conftest import PI_PASSWORD
from tests.system.conftest import log_in as _log_in
from videos.synthetic import BODYPARTS, LEFT_RIGHT, SKELETON, generate_video, render_frame

pytestmark = [pytest.mark.system]

VIDEO = {"width": 160, "height": 120, "seed": 3, "n_frames": 90}
RETRAIN_AFTER = 8
PASSWORD = "annot-pass-word-9"


def oracle(bodypart_ids: list[int], frame_index: int) -> list[dict]:
    """The true keypoints of a frame of the synthetic video, as the label API takes them."""
    _, keypoints = render_frame(frame_index, width=VIDEO["width"], height=VIDEO["height"],
                                seed=VIDEO["seed"])
    return [{"bodypart": part, "x": float(x), "y": float(y), "state": "visible"}
            for part, (x, y) in zip(bodypart_ids, keypoints[0], strict=True)]


def test_pi_creates_a_project_and_uploads_a_video(live, tmp_path_factory):
    video_path = Path(tmp_path_factory.mktemp("upload")) / "session1.mp4"
    generate_video(video_path, n_frames=VIDEO["n_frames"], width=VIDEO["width"],
                   height=VIDEO["height"], seed=VIDEO["seed"])
    project = live.pi.create_project(
        "System mice", [{"name": name} for name in BODYPARTS],
        [list(edge) for edge in SKELETON], [list(pair) for pair in LEFT_RIGHT],
        retrain_after_labels=RETRAIN_AFTER, queue_size=12, selection_batch_size=6,
        input_scale=1.0)
    pid = project["id"]
    video = live.pi.upload_video(pid, video_path)
    assert video["frame_count"] == VIDEO["n_frames"], video
    live.state.update(pid=pid, video=video["id"],
                      bodyparts=[bp["id"] for bp in project["skeleton"]["bodyparts"]])


def test_frames_are_extracted_in_the_worker(live):
    pid = live.state["pid"]
    job = live.pi.post(f"projects/{pid}/videos/{live.state['video']}/extract/",
                       {"strategy": "uniform", "n": 12}, expect=(202,))
    live.pi.wait_job(pid, job["id"], timeout_s=120)
    frames = live.pi.get(f"projects/{pid}/frames/")
    assert frames["count"] == 12
    queue = live.pi.get(f"projects/{pid}/queue/?status=open")
    assert queue["count"] == 12, queue


def test_invited_annotators_and_reviewer_sign_up(live):
    pid = live.state["pid"]
    for username, role in [("ann1", "annotator"), ("ann2", "annotator"),
                           ("rev", "reviewer")]:
        sign_up(live.pi.invite(pid, role), username, PASSWORD)
    live.state["clients"] = {name: Client.login(live.url, name, PASSWORD)
                             for name in ("ann1", "ann2", "rev")}
    members = live.pi.get(f"projects/{pid}/members/")
    roles = {m["username"]: m["role"] for m in members}
    assert roles == {"pi": "pi", "ann1": "annotator", "ann2": "annotator", "rev": "reviewer"}


def test_labels_up_to_the_threshold_train_a_model_in_the_worker(live):
    pid, clients = live.state["pid"], live.state["clients"]
    annotators = [clients["ann1"], clients["ann2"]]
    for n in range(RETRAIN_AFTER):
        annotator = annotators[n % 2]
        leased = annotator.lease(pid)
        assert leased is not None, f"the queue ran dry after {n} labels"
        points = oracle(live.state["bodyparts"], leased["frame"]["frame_index"])
        saved = annotator.submit(pid, leased, points)
        assert saved["label"]["status"] == "submitted"
    train = wait_for("a training job", lambda: live.pi.jobs(pid, "train"), timeout_s=30)
    live.pi.wait_job(pid, train[0]["id"], timeout_s=300)
    current = wait_for("a current model", lambda: live.pi.current_model(pid), timeout_s=60)
    assert current["test_rmse_px"] is not None
    version = live.pi.get(f"projects/{pid}/models/{current['id']}/")
    assert version["status"] == "ready", version
    assert version["trigger"] == "labels"
    live.state["version"] = current["id"]


def test_scoring_refills_the_queue_with_model_chosen_frames(live):
    pid = live.state["pid"]
    score = wait_for("a scoring job", lambda: live.pi.jobs(pid, "score"), timeout_s=60)
    job = live.pi.wait_job(pid, score[0]["id"], timeout_s=300)
    assert job["params"]["version_id"] == live.state["version"]
    entries = live.pi.get(f"projects/{pid}/queue/?status=open")["results"]
    chosen = [e for e in entries if e["model_version"] == live.state["version"]]
    assert chosen, entries
    assert all(e["reason"] and e["components"] for e in chosen), chosen


def test_labeling_page_shows_the_model_suggestions_and_accept_places_them(live, browser):
    pid = live.state["pid"]
    context, page, errors = _log_in(browser, live, "ann1", PASSWORD, f"/projects/{pid}/label/")
    try:
        page.wait_for_selector("#label-app[data-state=labeling]")
        frame_id = int(page.get_attribute("#label-app", "data-frame-id"))
        page.wait_for_selector("#suggestions:not([hidden])")
        assert "suggested" in page.inner_text("#suggestion-info")
        page.keyboard.press("a")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#parts li')]"
            ".every(li => li.dataset.state === 'visible')")
        client = live.state["clients"]["ann1"]
        label = wait_for("the accepted suggestions to be saved", lambda: client.get(
            f"projects/{pid}/frames/{frame_id}/label/", expect=(200, 404)).get("id") and
            client.get(f"projects/{pid}/frames/{frame_id}/label/"), timeout_s=30)
        prediction = client.get(f"projects/{pid}/frames/{frame_id}/prediction/")
        assert prediction["model_version"] == live.state["version"]
        assert label["source"] == "corrected_prediction"
        saved = {p["bodypart"]: (p["x"], p["y"]) for p in label["points"]}
        for point in prediction["points"]:
            assert np.allclose(saved[point["bodypart"]], (point["x"], point["y"]), atol=0.6)
        assert errors == []
    finally:
        context.close()


def test_reviewer_accepts_a_label(live):
    pid, reviewer = live.state["pid"], live.state["clients"]["rev"]
    task = reviewer.post(f"projects/{pid}/review/next/", expect=(200,))
    label = task["label"]
    reviewed = reviewer.post(f"projects/{pid}/labels/{label['id']}/review/",
                             {"decision": "accept", "note": ""}, expect=(200,))
    assert reviewed["label"]["status"] == "accepted"


def test_pi_analyses_the_video_and_downloads_the_pose_table(live, tmp_path):
    from movement.io import load_poses

    pid, vid = live.state["pid"], live.state["video"]
    # 90 frames in chunks of 32 (the stack's keyframe interval, conftest.py): three chunks,
    # fanned out as a chord when there is a result
    # backend (the PostgreSQL + Redis pass), all run by the first task otherwise.
    # The stack is shared with the other system tests: count this analysis's tasks only.
    def counts() -> tuple[int, int]:
        log = live.stack.log("worker")
        return (log.count("learning.tasks.analyze_chunk_task["),
                log.count("learning.tasks.analyze_merge_task["))

    before = counts()
    job = live.pi.post(f"projects/{pid}/videos/{vid}/analyze/",
                       {"chunk_frames": 32, "batch_size": 8}, expect=(202,))
    live.pi.wait_job(pid, job["id"], timeout_s=300)
    chunks, merges = (n - b for n, b in zip(counts(), before, strict=True))
    if live.env.get("CELERY_RESULT_BACKEND"):
        assert (chunks, merges) == (3 * 2, 1 * 2), "3 chunks + 1 merge, each received+succeeded"
    else:
        assert (chunks, merges) == (0, 0)
    analyses = live.pi.get(f"projects/{pid}/videos/{vid}/analyses/")
    assert analyses, "no published analysis"
    analysis = analyses[0]
    h5 = next(name for name in analysis["files"] if name.endswith(".h5"))
    response = live.pi.call(
        "GET", f"projects/{pid}/videos/{vid}/analyses/{analysis['id']}/download/{h5}")
    path = tmp_path / h5
    path.write_bytes(response.content)
    poses = load_poses.from_dlc_file(path, fps=30)
    assert poses.position.sizes["time"] == VIDEO["n_frames"]
    assert list(poses.keypoints.values) == list(BODYPARTS)
    # The table holds what the model learned of the synthetic animal: its points are far
    # nearer the truth than the best constant guess (each keypoint's mean position over the
    # video, ~35 px median here). The model trained for a fixed 15 s (conftest.py), so how
    # near depends on the machine's load (about 10 px when idle): the bound is relative.
    truth = np.stack([render_frame(i, width=VIDEO["width"], height=VIDEO["height"],
                                   seed=VIDEO["seed"])[1][0] for i in range(VIDEO["n_frames"])])
    found = poses.position.values[:, :, :, 0].transpose(0, 2, 1)  # (time, keypoints, space)
    error = np.nanmedian(np.linalg.norm(found - truth, axis=-1))
    constant = np.median(np.linalg.norm(truth - truth.mean(axis=0), axis=-1))
    assert error < 0.5 * constant, (error, constant)


def test_pi_downloads_the_model_bundle(live):
    pid, version = live.state["pid"], live.state["version"]
    response = live.pi.call("POST", f"projects/{pid}/models/{version}/export/", (200,))
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(n.endswith(".onnx") for n in names), names
    assert any(n.endswith(".json") for n in names), names


def test_dashboard_shows_the_new_version(live, browser):
    pid, version = live.state["pid"], live.state["version"]
    models = live.pi.get(f"projects/{pid}/dashboard/")["models"]
    assert models["current_version_id"] == version
    assert [p["version_id"] for p in models["curve"]] == [version], models["curve"]
    context, page, errors = _log_in(browser, live, "pi", PI_PASSWORD,
                                    f"/projects/{pid}/dashboard/")
    try:
        row = page.locator("tr.current").first
        assert "#1" in row.inner_text() and "current" in row.inner_text()
        page.wait_for_selector("body[data-dashboard-ready=true]")
        page.locator("[data-plot=curve-rmse] svg.main-svg").first.wait_for()
        assert errors == []
    finally:
        context.close()

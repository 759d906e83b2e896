"""3D-consistency active learning: queue the view that disagrees with the other cameras.

When a project has sessions whose rig has a ready calibration and a current model, the model
predicts 2D poses in every view at the same session frames (session frame t is video frame
t + the view's offset); `learning.geometry.consistency.view_disagreement` triangulates each
point from the other views and measures how far each view's prediction is from where the
others put it; the view to blame is the one whose removal makes the others agree
(`learning.selection.views3d.score_views`). Frames are chosen by their disagreement, spread
in time (no two chosen frames of a session closer than `min_gap`), and the view(s) to blame
of each (at least `views3d.MIN_ERROR_PX` off) — the Frame of that view's video at that
index, created as the scoring job creates its frames — are queued with the reason
"views_3d" and the camera, its error and the session frame in the entry's components.

Runs as a "score_3d" job (`cameras.tasks.score_views_3d_task`, inference queue), queued when
a model becomes current (`on_current_model_saved`, connected in `CamerasConfig.ready`: the
learning app knows nothing of cameras). Projects without a calibrated session queue nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from django.conf import settings
from django.db import transaction

from annotation.models import COUNTED_STATUSES, Label, QueueReason
from annotation.queue import enqueue_frames, queue_state
from cameras.models import Session, SessionView
from cameras.rigs import calibration_cameras
from jobs.dispatch import dispatch_on_commit
from jobs.models import ACTIVE_STATUSES, Job, JobKind
from jobs.progress import JobCancelled, create_job, report, running
from learning.engine.predict import predict_images
from learning.geometry.camera import Camera
from learning.models import CurrentModel, ModelVersion, VersionStatus
from learning.selection.scoring import materialize, predicted_keypoints, split_budget, video_stream
from learning.selection.views3d import disagreeing_views, pick_frames, score_views
from learning.training.registry import current_version, for_inference, loaded_model
from projects.models import Project
from videos.models import Frame, Video
from videos.sampling import spread

logger = logging.getLogger(__name__)

STRATEGY = "views3d"  # Frame.extraction_strategy "al-views3d"
# Queue priority err / (err + PRIORITY_PX): 8 px → 0.29, 20 px → 0.5, 60 px → 0.75.
PRIORITY_PX = 20.0
# Predicted points below this likelihood do not take part in the triangulation.
MIN_SCORE = 0.1

Progress = Callable[[float, str], None]
# (video, indices) → poses (len(indices), K, 3): x, y in original pixels and likelihood.
Predictor = Callable[[Video, list[int]], np.ndarray]


class Score3dSummary(TypedDict):
    version_id: int
    sessions: int
    scored_frames: int
    needed: int
    enqueued: int
    seconds: float
    skipped: str


@dataclass
class CalibratedSession:
    """A session whose rig has a ready calibration: its views in the calibration's order."""

    session: Session
    cameras: list[Camera]
    views: list[SessionView]


@dataclass
class SessionScores:
    """Predicted poses and 3D disagreement at some frames of one session."""

    target: CalibratedSession
    frames: np.ndarray  # (F,) session frame indices
    poses: np.ndarray  # (C, F, K, 3)
    frame_scores: np.ndarray  # (F,) worst view's `view_disagreement` (ranks frames)
    blame: np.ndarray  # (C, F) how much the frame score drops without the view (`score_views`)
    view_px: np.ndarray  # (C, F) mean leave-one-out error in px (thresholds, the queue)


def calibrated_sessions(project: Project | int) -> list[CalibratedSession]:
    """Sessions of the project whose rig has a ready calibration naming every view's camera."""
    out = []
    for session in (Session.objects.filter(project=project).select_related("rig")
                    .prefetch_related("views__video").order_by("id")):
        calibration = session.rig.current_calibration()
        if calibration is None:
            continue
        by_name = {c.name: c for c in calibration_cameras(calibration)}
        views = [v for v in session.views.all() if v.camera in by_name]
        if len(views) < 3:  # two views cannot tell which one is wrong
            continue
        out.append(CalibratedSession(session, [by_name[v.camera] for v in views], views))
    return out


def model_predictor(version: ModelVersion, batch_size: int = 8) -> Predictor:
    """The version's predictions at video indices (one sequential decode per call)."""
    model, cfg = loaded_model(version)
    model = for_inference(model)

    def predict(video: Video, indices: list[int]) -> np.ndarray:
        images = (rgb for _, rgb in video_stream(video, indices))
        return predict_images(model, cfg, images, batch_size=batch_size)

    return predict


def score_session(target: CalibratedSession, frames: np.ndarray, predict: Predictor,
                  *, min_score: float = MIN_SCORE) -> SessionScores:
    """Predict every view at session `frames` and measure each view's 3D disagreement."""
    frames = np.asarray(frames, dtype=np.int64)
    poses = np.stack([predict(view.video, (frames + view.offset).tolist())
                      for view in target.views]).astype(np.float64)
    if len(frames) == 0:
        empty = np.zeros((len(target.views), 0))
        return SessionScores(target, frames, poses, np.zeros(0), empty, empty)
    frame_scores, blame, view_px = score_views(target.cameras, poses, min_score)
    return SessionScores(target, frames, poses, frame_scores, blame, view_px)


def priority(error_px: float) -> float:
    return round(error_px / (error_px + PRIORITY_PX), 4)


def _taken(project_id: int, ever_queued: set[int]) -> set[tuple[int, int]]:
    """(video id, frame index) of frames that were ever queued or have a counted label."""
    labeled = Label.objects.filter(project_id=project_id, status__in=COUNTED_STATUSES)
    ids = ever_queued | set(labeled.values_list("frame_id", flat=True))
    return {(v, i) for v, i in Frame.objects.filter(pk__in=ids, video__isnull=False)
            .values_list("video_id", "frame_index")}


def _candidates(targets: list[CalibratedSession], budget: int, offset: float
                ) -> list[np.ndarray]:
    """Session frames to score: `budget` forward passes shared by the sessions (each frame
    costs one pass per view), spread evenly over each session."""
    shares = split_budget([t.session.frame_count for t in targets],
                          max(0, budget // max(1, max(len(t.views) for t in targets))))
    return [spread(np.arange(t.session.frame_count), share, offset)
            for t, share in zip(targets, shares, strict=True)]


def choose(scored: list[SessionScores], needed: int, taken: set[tuple[int, int]]
           ) -> dict[tuple[str, int, int], dict[str, Any]]:
    """Queue keys ("video", video id, index) → components, for at most `needed` frames."""
    rows: list[tuple[float, int, int]] = []  # (frame score, which session, row)
    for s, result in enumerate(scored):
        gap = max(1, result.target.session.frame_count // max(1, 2 * needed))
        eligible = result.frame_scores.copy()
        for row, t in enumerate(result.frames):
            free = [c for c, v in enumerate(result.target.views)
                    if (v.video_id, int(t) + v.offset) not in taken]
            views = disagreeing_views(result.blame[:, row], result.view_px[:, row])
            if not set(views) & set(free):
                eligible[row] = np.nan
        rows += [(float(result.frame_scores[r]), s, r)
                 for r in pick_frames(result.frames, eligible, needed, gap)]
    chosen: dict[tuple[str, int, int], dict[str, Any]] = {}
    for _, s, row in sorted(rows, reverse=True)[:needed]:
        result = scored[s]
        t = int(result.frames[row])
        errors = result.view_px[:, row]
        for c in disagreeing_views(result.blame[:, row], errors):
            view = result.target.views[c]
            key = ("video", view.video_id, t + view.offset)
            if (view.video_id, t + view.offset) in taken:
                continue
            chosen[key] = {
                "score": priority(float(errors[c])),
                "camera": view.camera,
                "view_error_px": round(float(errors[c]), 2),
                "disagreement": round(float(result.blame[c, row]), 3),
                "session": result.target.session.name,
                "session_frame": t,
                "keypoints": predicted_keypoints(result.poses[c, row]),
            }
    return chosen


def _skip(version_id: int, why: str, start: float, sessions: int = 0) -> Score3dSummary:
    logger.info("3D-consistency scoring skipped for version %s: %s", version_id, why)
    return Score3dSummary(version_id=version_id, sessions=sessions, scored_frames=0, needed=0,
                          enqueued=0, seconds=round(time.perf_counter() - start, 2),
                          skipped=why)


def score_views_3d(project_id: int, version_id: int, *, progress: Progress | None = None,
                   max_candidates: int | None = None, predict: Predictor | None = None
                   ) -> Score3dSummary:
    """Score the project's calibrated sessions with `version` (the current, ready model) and
    queue the views that disagree most (see the module docstring). `predict` replaces the
    model (tests); `max_candidates` bounds the forward passes (default
    settings.SCORING_MAX_CANDIDATES)."""
    start = time.perf_counter()
    say = progress or (lambda fraction, message: None)
    project = Project.objects.get(pk=project_id)
    version = ModelVersion.objects.get(pk=version_id, project_id=project_id)
    if predict is None:
        current = current_version(project)
        if version.status != VersionStatus.READY or not version.checkpoint:
            return _skip(version_id, f"model is {version.status}", start)
        if current is None or current.pk != version.pk:
            return _skip(version_id, "a newer model is current", start)
    targets = calibrated_sessions(project)
    if not targets:
        return _skip(version_id, "no session with a calibrated rig and three views", start)
    live, _, ever_queued = queue_state(project_id, (QueueReason.VIEWS_3D,), version_id)
    needed = min(project.selection_batch_size, max(0, project.queue_size - live))
    if needed == 0:
        return _skip(version_id, "queue is full", start, len(targets))
    if predict is None:
        predict = model_predictor(version)
    offset = float(np.random.default_rng(version_id).random())
    plans = _candidates(targets, int(max_candidates or settings.SCORING_MAX_CANDIDATES), offset)
    scored = []
    for i, (target, frames) in enumerate(zip(targets, plans, strict=True)):
        say(0.05 + 0.8 * i / len(targets), f"Predicting {len(frames)} frames of session "
                                           f"{target.session.name} in {len(target.views)} views")
        scored.append(score_session(target, frames, predict))
    say(0.87, "Choosing frames")
    chosen = choose(scored, needed, _taken(project_id, ever_queued))
    enqueued = 0
    if chosen:
        say(0.9, f"Saving {len(chosen)} frames")
        frame_ids = materialize(project, list(chosen), STRATEGY)
        by_frame = {frame_ids[key]: comps for key, comps in chosen.items()}
        enqueued = enqueue_frames(
            project_id, list(by_frame), reason=QueueReason.VIEWS_3D,
            priorities={f: c["score"] for f, c in by_frame.items()},
            components=by_frame, model_version_id=version_id, within_queue_size=True)
    return Score3dSummary(version_id=version_id, sessions=len(targets),
                          scored_frames=int(sum(len(s.frames) for s in scored)), needed=needed,
                          enqueued=enqueued, seconds=round(time.perf_counter() - start, 2),
                          skipped="")


# --- the trigger ----------------------------------------------------------------------------

def queue_views_3d(project_id: int, version_id: int) -> Job | None:
    """A "score_3d" job sent after commit; None when the project has no calibrated session or
    such a job is already queued or running."""
    if not calibrated_sessions(project_id):
        return None
    if Job.objects.filter(project_id=project_id, kind=JobKind.SCORE_3D,
                          status__in=ACTIVE_STATUSES).exists():
        return None
    job = create_job(project_id, JobKind.SCORE_3D, params={"version_id": version_id})
    dispatch_on_commit(job)
    return job


def run_views_3d_job(project_id: int, version_id: int, job_id: int) -> None:
    """The task body: the job's progress and result around `score_views_3d`."""
    try:
        with running(job_id) as job:
            job.result = dict(score_views_3d(
                project_id, version_id, progress=lambda f, m: report(job_id, f, m)))
    except JobCancelled:
        return


def on_current_model_saved(sender: Any, instance: CurrentModel, **kwargs: Any) -> None:
    """post_save receiver on CurrentModel: after the promotion commits, queue 3D scoring."""
    if kwargs.get("raw"):
        return
    project_id, version_id = instance.project_id, instance.version_id

    def start() -> None:
        try:
            queue_views_3d(project_id, version_id)
        except Exception:
            logger.exception("could not queue 3D-consistency scoring of project %s", project_id)

    transaction.on_commit(start)

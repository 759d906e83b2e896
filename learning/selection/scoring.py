"""Active learning on the Django side: score candidate frames with the current model, choose
a batch by the project's strategy, create their Frame rows and queue them.

Flow of `score_project` (one Celery task on the inference queue, wherever the model runs):
1. Candidates: a budget of `max_candidates` per run (settings.SCORING_MAX_CANDIDATES), shared
   by the project's never-queued unlabeled frames (at most half) and its videos (in proportion
   to their frames without a Frame row), spread evenly over each video with an offset drawn
   from the model version (each round looks at other frames), decoded in ONE sequential pass
   per video and scored
   `batch_size` at a time by `engine.embed.StreamScorer`, which keeps only poses, embeddings
   and scores per frame (never the images); plus the project's existing frames that were never
   labeled or queued, and the open queue entries scored by an older model (to re-rank them).
2. Temporal scores per video from the candidates' predicted tracks; coverage = distance to
   the nearest labeled frame in embedding space (the model's blind spots), the labeled frames
   represented by a spread sample of at most half the budget.
3. Choose `queue_size - live entries` frames: random, kmeans (diversity only), uncertainty
   (score only, near-duplicates skipped) or hybrid (score-weighted k-center greedy on the
   top-scored shortlist). Near-duplicates of labeled frames are never chosen.
4. A second sequential pass per video decodes just the chosen indices into Frame rows
   (origin "selected"); all are queued through `annotation.queue.enqueue_frames` with
   priority = combined score, components (scores and the predicted keypoints) and the model
   version; stale open entries are re-ranked with `annotation.queue.rerank_open_entries`
   (leased ones are left alone there).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypedDict

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from annotation.models import QueueReason
from annotation.queue import enqueue_frames, queue_state, rerank_open_entries
from jobs.dispatch import dispatch_on_commit
from jobs.models import ACTIVE_STATUSES as ACTIVE_JOB_STATUSES
from jobs.models import Job, JobKind
from jobs.progress import JobCancelled, create_job, report, running
from learning.engine.config import ModelConfig
from learning.engine.data import load_image
from learning.engine.embed import (
    ScoredCandidates,
    StreamScorer,
    forward_with_embeddings,
    score_stream,
)
from learning.engine.network import PoseNet
from learning.engine.selection import (
    coverage_distance,
    default_radius,
    hybrid_pick,
    kmeans_pick,
    top_k,
)
from learning.engine.uncertainty import (
    DEFAULT_WEIGHTS,
    SkeletonStats,
    combine,
    default_edges,
    fit_skeleton_stats,
    label_outliers,
    normalize_components,
    temporal_inconsistency,
)
from learning.models import CurrentModel, ModelVersion, VersionStatus
from learning.training.datasets import (
    flip_pairs,
    labeled_frame_ids,
    local_image_path,
    samples_for_frames,
)
from learning.training.registry import (
    current_version,
    for_inference,
    loaded_model,
    previous_current,
)
from projects.models import Project, SelectionStrategy
from videos.files import local_video_path
from videos.models import Frame, FrameOrigin, Video
from videos.sampling import iter_frames, spread

logger = logging.getLogger(__name__)

# Labels whose skeletons the plausibility statistics are fitted on (no forward pass: cheap).
# The forward passes are bounded by settings.SCORING_MAX_CANDIDATES (docs/benchmarks.md).
MAX_LABELED_SKELETONS = 2000
BATCH_SIZE = 16
# Share of candidates (the most uncertain by the cheap scores) that also get the costly scores
# (flip + zoom TTA, disagreement with the previous model): 3 extra forwards on 5 % of the
# frames keeps scoring within ~20 % of plain inference.
EXTRAS_FRACTION = 0.05
MODEL_REASONS = (QueueReason.DIVERSITY, QueueReason.UNCERTAINTY, QueueReason.TEMPORAL,
                 QueueReason.SKELETON)
# Which queue reason a frame gets: the component that contributed most to its score.
REASON_OF = {"confidence": QueueReason.UNCERTAINTY, "entropy": QueueReason.UNCERTAINTY,
             "peaks": QueueReason.UNCERTAINTY, "tta": QueueReason.UNCERTAINTY,
             "disagreement": QueueReason.UNCERTAINTY, "temporal": QueueReason.TEMPORAL,
             "skeleton": QueueReason.SKELETON, "coverage": QueueReason.DIVERSITY}

# components[KEYPOINTS]: the selecting model's prediction, one [x, y, likelihood] per body part
# (project body-part order, original pixels); every other component is a number or a string.
KEYPOINTS = "keypoints"

Key = tuple[Any, ...]  # ("video", video_id, index) | ("frame", frame_id)
Progress = Callable[[float, str], None]


class ScoreSummary(TypedDict):
    """What a scoring run did (the job's result)."""

    version_id: int
    strategy: str
    candidates: int
    needed: int
    created_frames: int
    enqueued: int
    reranked: int
    seconds: float
    skipped: str
    suspect_label_frame_ids: list[int]


# --- candidates -----------------------------------------------------------------------------

def available_indices(frame_count: int, existing: Iterable[int]) -> np.ndarray:
    """Frame indices of a video that have no Frame row yet."""
    return np.setdiff1d(np.arange(frame_count, dtype=np.int64),
                        np.fromiter((int(i) for i in existing), dtype=np.int64))


def candidate_indices(frame_count: int, existing: Iterable[int], max_candidates: int,
                      offset: float = 0.5) -> list[int]:
    """Up to `max_candidates` sorted indices spread evenly over the frames without a Frame;
    `offset` in [0, 1) shifts the grid within its spacing (0.5: centred)."""
    return spread(available_indices(frame_count, existing), max_candidates, offset).tolist()


def split_budget(sizes: list[int], budget: int) -> list[int]:
    """Shares of `budget` proportional to `sizes` (largest remainders), none above its size."""
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    total = sizes_arr.sum()
    if total <= budget:
        return [int(n) for n in sizes]
    exact = sizes_arr * budget / total
    shares = np.floor(exact).astype(np.int64)
    for i in np.argsort(-(exact - shares), kind="stable")[: budget - int(shares.sum())]:
        shares[i] += 1
    return [int(min(n, k)) for n, k in zip(sizes, shares, strict=True)]


def video_stream(video: Video, indices: list[int]) -> Iterator[tuple[Key, np.ndarray]]:
    """(key, RGB frame) for `indices` by one sequential decode; one frame alive at a time."""
    if not indices:
        return
    with local_video_path(video) as path:
        for index, bgr in iter_frames(str(path), indices):
            yield ("video", video.pk, index), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def frame_stream(frames: Iterable[Frame]) -> Iterator[tuple[Key, np.ndarray]]:
    """(key, RGB image) for existing frames, read one at a time from storage."""
    for frame in frames:
        try:
            yield ("frame", frame.pk), load_image(local_image_path(frame))
        except (OSError, ValueError):
            logger.warning("frame %s has no readable image; not scored", frame.pk)


# --- labeled frames: skeleton statistics and embeddings --------------------------------------

def _skeleton_edges(project: Project) -> list[tuple[int, int]]:
    parts = list(project.bodyparts.order_by("order", "id").values_list("pk", flat=True))
    index = {pk: k for k, pk in enumerate(parts)}
    edges = [(index[s], index[t]) for s, t in project.edges.values_list("source_id", "target_id")
             if s in index and t in index]
    return edges or default_edges(len(parts))


def _labeled_context(project: Project, model: PoseNet, cfg: ModelConfig, batch_size: int,
                     max_embedded: int
                     ) -> tuple[SkeletonStats | None, np.ndarray, list[int], list[int]]:
    """(skeleton statistics of the labels, embeddings (M, C) of at most `max_embedded` labeled
    frames spread over them (coverage is measured against these: the forward passes cost
    time, the label statistics do not), all labeled ids, ids of labeled frames whose skeleton
    is implausible: likely label errors)."""
    ids = labeled_frame_ids(project)[-MAX_LABELED_SKELETONS:]
    if not ids:
        return None, np.zeros((0, 1), np.float32), [], []
    order, samples = samples_for_frames(project, ids)
    stats, suspects = None, []
    if len(samples) >= 3:
        keypoints = np.stack([np.where(s.present[:, None], s.keypoints, np.nan) for s in samples])
        edges = _skeleton_edges(project)
        stats = fit_skeleton_stats(keypoints, edges)
        suspects = [int(order[r]) for r in label_outliers(keypoints, edges)]
    embedded = [samples[i] for i in spread(np.arange(len(samples)), max(1, max_embedded))]
    chunks = []
    for start in range(0, len(embedded), batch_size):
        images = [load_image(s.image_path) for s in embedded[start:start + batch_size]]
        chunks.append(forward_with_embeddings(model, cfg, images).embeddings)
    return stats, np.concatenate(chunks), list(order), suspects


# --- choosing -------------------------------------------------------------------------------

def project_weights(project: Project) -> dict[str, float]:
    """DEFAULT_WEIGHTS updated by the project's acquisition_weights (unknown names ignored)."""
    weights = dict(DEFAULT_WEIGHTS)
    for name, value in (project.acquisition_weights or {}).items():
        if name in weights:
            weights[name] = float(value)
        else:
            logger.warning("project %s: unknown acquisition weight %r ignored", project.pk, name)
    return weights


def add_temporal(scored: ScoredCandidates) -> None:
    """components["temporal"]: per video, deviation of each candidate from its smooth track."""
    temporal = np.zeros(len(scored.keys))
    rows_of: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row, key in enumerate(scored.keys):
        if key[0] == "video":
            rows_of[key[1]].append((key[2], row))
    for rows in rows_of.values():
        rows.sort()
        order = [row for _, row in rows]
        temporal[order] = temporal_inconsistency(scored.poses[order])
    scored.components["temporal"] = temporal


def choose(strategy: str, scores: np.ndarray, embeddings: np.ndarray, eligible: np.ndarray,
           labeled: np.ndarray, n: int, seed: int = 0) -> list[int]:
    """Rows (into the candidate arrays) to queue, at most n, unique, only `eligible` ones.

    scores (N,) in [0, 1]; embeddings (N, C); eligible (N,) bool; labeled (M, C).
    """
    rows = np.flatnonzero(eligible)
    if n <= 0 or rows.size == 0:
        return []
    emb, sc = embeddings[rows], scores[rows]
    radius = default_radius(np.concatenate([emb, labeled]) if len(labeled) else emb)
    if strategy == SelectionStrategy.RANDOM:
        rng = np.random.default_rng(seed)
        picked = rng.permutation(rows.size)[:n].tolist()
    elif strategy == SelectionStrategy.KMEANS:
        picked = kmeans_pick(emb, n, labeled=labeled, radius=radius, seed=seed)
    elif strategy == SelectionStrategy.UNCERTAINTY:
        picked = top_k(sc, n, embeddings=emb, labeled=labeled, radius=radius)
    else:
        picked = hybrid_pick(emb, sc, n, labeled=labeled, radius=radius, seed=seed)
    return [int(rows[p]) for p in picked]


def predicted_keypoints(pose: np.ndarray) -> list[list[float] | None]:
    """(K, 3) pose → `[x, y, likelihood]` per body part (0.1 px, 0.001), None if not finite.

    Stored as the queue entry's `components["keypoints"]` so the dashboard can later compare
    the selecting model's prediction with the label the frame receives.
    """
    return [[round(float(x), 1), round(float(y), 1), round(float(p), 3)]
            if np.isfinite([x, y, p]).all() else None for x, y, p in pose.tolist()]


def _frame_components(names: list[str], raw: dict[str, np.ndarray], normed: dict[str, np.ndarray],
                      weights: dict[str, float], scores: np.ndarray, poses: np.ndarray, row: int,
                      strategy: str) -> tuple[dict[str, Any], str]:
    """(components, reason) of candidate `row`: the combined score, every finite raw score
    (name → number) and the model's predicted keypoints (`predicted_keypoints`, a list)."""
    comps: dict[str, Any] = {"score": round(float(scores[row]), 4)}
    best, best_value = "coverage", -1.0
    for name in names:
        value = float(raw[name][row])
        if np.isfinite(value):
            comps[name] = round(value, 4)
        contribution = weights.get(name, 0.0) * float(normed[name][row])
        if np.isfinite(value) and contribution > best_value:
            best, best_value = name, contribution
    comps[KEYPOINTS] = predicted_keypoints(poses[row])
    reason = QueueReason.DIVERSITY
    if strategy in (SelectionStrategy.UNCERTAINTY, SelectionStrategy.HYBRID):
        reason = REASON_OF.get(best, QueueReason.UNCERTAINTY)
    return comps, str(reason)


def _video_plan(project: Project, budget: int, version_id: int
                ) -> list[tuple[Video, list[int]]]:
    """Candidate indices per video: `budget` shared by frames without a Frame row, on a grid
    whose offset comes from the version (so the next model looks between these frames)."""
    videos = list(Video.objects.filter(project=project, deleted_at__isnull=True))
    available = [available_indices(v.frame_count, v.frames.values_list("frame_index", flat=True))
                 for v in videos]
    shares = split_budget([a.size for a in available], max(0, budget))
    offset = float(np.random.default_rng(version_id).random())
    return [(video, spread(free, share, offset).tolist())
            for video, free, share in zip(videos, available, shares, strict=True)]


# --- creating frames ------------------------------------------------------------------------

def materialize(project: Project, keys: list[Key], strategy: str) -> dict[Key, int]:
    """Frame ids for chosen keys: existing frames as they are; video indices decoded in one
    sequential pass per video and saved as PNG Frames (origin "selected").

    Each frame is its own small transaction guarded by the (video, frame_index) unique
    constraint; a frame created meanwhile by someone else is reused.
    """
    out: dict[Key, int] = {key: key[1] for key in keys if key[0] == "frame"}
    by_video: dict[int, list[int]] = defaultdict(list)
    for key in keys:
        if key[0] == "video":
            by_video[key[1]].append(key[2])
    for video in Video.objects.filter(pk__in=list(by_video)):
        with local_video_path(video) as path:
            for index, bgr in iter_frames(str(path), sorted(by_video[video.pk])):
                out[("video", video.pk, index)] = _save_frame(project, video, index, bgr,
                                                              strategy)
    return out


def _save_frame(project: Project, video: Video, index: int, bgr: np.ndarray, strategy: str
                ) -> int:
    ok, png = cv2.imencode(".png", bgr)
    if not ok:
        raise RuntimeError(f"could not encode frame {index} as PNG")
    frame = Frame(project=project, video=video, frame_index=index, width=bgr.shape[1],
                  height=bgr.shape[0], origin=FrameOrigin.SELECTED,
                  extraction_strategy=f"al-{strategy}")
    frame.image.save(f"v{video.pk}_f{index:07d}.png", ContentFile(png.tobytes()), save=False)
    try:
        with transaction.atomic():
            frame.save()
        return frame.pk
    except IntegrityError:
        frame.image.delete(save=False)
        return Frame.objects.get(video=video, frame_index=index).pk


# --- the run --------------------------------------------------------------------------------

def _load_previous(version: ModelVersion, cfg: ModelConfig) -> tuple[PoseNet, ModelConfig] | None:
    previous = previous_current(version)
    if previous is None or not previous.checkpoint:
        return None
    try:
        model, prev_cfg = loaded_model(previous)
    except (OSError, RuntimeError, ValueError, KeyError):
        return None
    if prev_cfg.num_keypoints != cfg.num_keypoints:
        return None
    return for_inference(model), prev_cfg


def _skip(version_id: int, strategy: str, why: str, start: float) -> ScoreSummary:
    logger.info("scoring skipped for version %s: %s", version_id, why)
    return ScoreSummary(version_id=version_id, strategy=strategy, candidates=0, needed=0,
                        created_frames=0, enqueued=0, reranked=0,
                        seconds=round(time.perf_counter() - start, 2), skipped=why,
                        suspect_label_frame_ids=[])


def _enqueue_chosen(project: Project, chosen: dict[Key, tuple[dict[str, Any], str]],
                    strategy: str, version_id: int) -> int:
    """Create the chosen frames and queue them, one `enqueue_frames` call per reason."""
    frame_ids = materialize(project, list(chosen), strategy)
    groups: dict[str, dict[int, tuple[float, dict[str, Any]]]] = defaultdict(dict)
    for key, (comps, reason) in chosen.items():
        groups[reason][frame_ids[key]] = (comps["score"], comps)
    enqueued = 0
    for reason, entries in groups.items():
        enqueued += enqueue_frames(
            project.pk, list(entries), reason=reason,
            priorities={f: p for f, (p, _) in entries.items()},
            components={f: c for f, (_, c) in entries.items()}, model_version_id=version_id,
            within_queue_size=True)
    return enqueued


def score_project(project_id: int, version_id: int, *, progress: Progress | None = None,
                  max_candidates: int | None = None, batch_size: int = BATCH_SIZE,
                  extras_fraction: float = EXTRAS_FRACTION, seed: int = 0) -> ScoreSummary:
    """Score candidates with `version` (which must be the project's current, ready model),
    add up to project.selection_batch_size frames to the queue (never past
    project.queue_size) and re-rank stale open entries. See the module
    docstring. Each queue change is atomic inside `annotation.queue`."""
    start = time.perf_counter()
    say = progress or (lambda fraction, message: None)
    project = Project.objects.get(pk=project_id)
    version = ModelVersion.objects.get(pk=version_id, project_id=project_id)
    strategy = project.selection_strategy
    current = current_version(project)
    if version.status != VersionStatus.READY or not version.checkpoint:
        return _skip(version_id, strategy, f"model is {version.status}", start)
    if current is None or current.pk != version.pk:
        return _skip(version_id, strategy, "a newer model is current", start)
    if project.multi_animal:
        from learning.selection.multi_scoring import score_multi_project  # builds on this one

        return score_multi_project(project, version, progress=say,
                                   max_candidates=max_candidates, batch_size=batch_size,
                                   seed=seed)
    model, cfg = loaded_model(version)
    if cfg.num_keypoints != project.bodyparts.count():
        return _skip(version_id, strategy, "the skeleton changed since training", start)
    model = for_inference(model)  # CUDA when present
    live, stale, ever_queued = queue_state(project_id, MODEL_REASONS, version_id)
    # At most one selection batch per model, and never past the queue size.
    needed = min(project.selection_batch_size, max(0, project.queue_size - live))
    if needed == 0 and not stale:
        return _skip(version_id, strategy, "queue is full", start)
    budget = int(max_candidates or settings.SCORING_MAX_CANDIDATES)
    say(0.02, "Preparing labeled frames")
    skeleton, labeled_emb, labeled_ids, suspects = _labeled_context(project, model, cfg,
                                                                    batch_size, budget // 2)
    labeled_set = set(labeled_ids) | set(labeled_frame_ids(project))
    existing_frames = list(
        Frame.objects.filter(project=project).exclude(pk__in=labeled_set)
        .exclude(pk__in=ever_queued).order_by("id")[:max(1, budget // 2)])
    plan = _video_plan(project, budget - len(existing_frames), version_id)
    stale_frames = list(Frame.objects.filter(pk__in=stale))
    total = sum(len(ix) for _, ix in plan) + len(existing_frames) + len(stale_frames)
    scorer = StreamScorer(model, cfg, flip_pairs=flip_pairs(project), skeleton=skeleton,
                          previous=_load_previous(version, cfg),
                          extras_fraction=extras_fraction)

    def items() -> Iterator[tuple[Hashable, np.ndarray]]:
        for video, indices in plan:
            yield from video_stream(video, indices)
        yield from frame_stream(existing_frames)
        yield from frame_stream(stale_frames)

    scored = score_stream(scorer, items(), batch_size,
                          progress=lambda done: say(0.05 + 0.8 * done / max(total, 1),
                                                    f"Scored {done}/{total} frames"))
    if not scored.keys:
        return _skip(version_id, strategy, "no candidate frames", start)
    add_temporal(scored)
    scored.components["coverage"] = coverage_distance(scored.embeddings, labeled_emb)
    weights = project_weights(project)
    if strategy == SelectionStrategy.UNCERTAINTY:
        weights["coverage"] = 0.0
    raw = scored.components
    scores = combine(raw, weights)
    normed = normalize_components(raw)
    stale_set = set(stale)
    eligible = np.array([not (k[0] == "frame" and k[1] in stale_set) for k in scored.keys])
    say(0.87, "Choosing frames")
    # Open entries count as covered too: new picks must not be near-duplicates of them.
    queued_emb = scored.embeddings[~eligible]
    covered = (np.concatenate([labeled_emb, queued_emb]) if len(labeled_emb) else queued_emb)
    rows = choose(strategy, scores, scored.embeddings, eligible, covered, needed, seed)
    names = sorted(raw)
    chosen = {scored.keys[r]: _frame_components(names, raw, normed, weights, scores, scored.poses,
                                                r, strategy)
              for r in rows}
    say(0.9, f"Saving {len(rows)} frames")
    enqueued = _enqueue_chosen(project, chosen, strategy, version_id)
    rerank = {}
    for row, key in enumerate(scored.keys):
        if key[0] == "frame" and key[1] in stale_set:
            comps, _ = _frame_components(names, raw, normed, weights, scores, scored.poses, row,
                                         strategy)
            rerank[key[1]] = (comps["score"], comps)
    reranked = rerank_open_entries(project_id, rerank, version_id) if rerank else 0
    created = sum(1 for key in chosen if key[0] == "video")
    return ScoreSummary(version_id=version_id, strategy=strategy, candidates=len(scored.keys),
                        needed=needed, created_frames=created, enqueued=enqueued,
                        reranked=reranked, seconds=round(time.perf_counter() - start, 2),
                        skipped="", suspect_label_frame_ids=suspects)


# --- the loop's trigger ---------------------------------------------------------------------

def queue_scoring(project_id: int, version_id: int) -> Job | None:
    """Create a "score" job and send `score_project_task` after commit; None if a scoring job
    of the project is already queued or running (it will see the newest current model)."""
    if Job.objects.filter(project_id=project_id, kind=JobKind.SCORE,
                          status__in=ACTIVE_JOB_STATUSES).exists():
        return None
    job = create_job(project_id, JobKind.SCORE, params={"version_id": version_id})
    dispatch_on_commit(job)
    return job


def run_scoring_job(project_id: int, version_id: int, job_id: int | None = None) -> None:
    """The task body: the job's progress and result around `score_project`."""
    if job_id is None:
        job_id = create_job(project_id, JobKind.SCORE, params={"version_id": version_id}).pk
    try:
        with running(job_id) as job:
            job.result = dict(score_project(
                project_id, version_id, progress=lambda f, m: report(job_id, f, m)))
    except JobCancelled:
        return


def on_current_model_saved(sender: Any, instance: CurrentModel, **kwargs: Any) -> None:
    """post_save receiver on CurrentModel: a version became current → score after commit.

    Runs inside the promotion's transaction, so it only registers an on_commit callback (a
    rolled-back promotion queues nothing) and never raises into it.
    """
    if kwargs.get("raw"):
        return
    project_id, version_id = instance.project_id, instance.version_id

    def start() -> None:
        try:
            queue_scoring(project_id, version_id)
        except Exception:
            logger.exception("could not queue scoring of project %s", project_id)

    transaction.on_commit(start)


def on_video_added(sender: Any, project_id: int, video_id: int, **kwargs: Any) -> None:
    """videos.signals.video_added receiver: a project with a current model (say one adopted
    from the zoo, before any labels) scores the new video's frames and refills the queue, as
    after a promotion. Never raises into the upload."""
    try:
        version = current_version(project_id)
        if version is not None:
            queue_scoring(project_id, version.pk)
    except Exception:
        logger.exception("could not queue scoring of project %s after video %s",
                         project_id, video_id)

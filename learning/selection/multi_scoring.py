"""Active learning for multi-animal projects: score candidate frames by what the current
model's animals say (`engine.multi.acquisition`), pick a diverse batch, queue it.

The candidates, the frame creation and the queueing are the single-animal path's
(`scoring`): a budget of video frames spread over each video plus never-queued frames. The
scores differ: missed or merged animals, the least sure animal, animals touching, parts
nearer another animal. Diversity uses small grey thumbnails of the frames (the multi-animal
networks have no single embedding), against the labeled frames' thumbnails.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np
from django.conf import settings

from annotation.models import QueueReason
from annotation.queue import queue_state
from learning.engine.data import load_image
from learning.engine.multi.acquisition import (
    MULTI_WEIGHTS,
    coverage,
    frame_scores,
    thumbnail,
    weighted_ranks,
)
from learning.models import ModelVersion
from learning.selection.scoring import (
    BATCH_SIZE,
    Key,
    Progress,
    ScoreSummary,
    _enqueue_chosen,
    _skip,
    _video_plan,
    choose,
    frame_stream,
    video_stream,
)
from learning.training.datasets import labeled_frame_ids, local_image_path
from learning.training.registry import loaded_predictor
from projects.models import Project, SelectionStrategy
from videos.models import Frame
from videos.sampling import spread

REASON_OF = {"count": QueueReason.ANIMALS, "confidence": QueueReason.UNCERTAINTY,
             "touching": QueueReason.TOUCHING, "assignment": QueueReason.ASSIGNMENT,
             "coverage": QueueReason.DIVERSITY}
MULTI_REASONS = (QueueReason.DIVERSITY, QueueReason.UNCERTAINTY, QueueReason.ANIMALS,
                 QueueReason.TOUCHING, QueueReason.ASSIGNMENT)
MAX_LABELED_THUMBNAILS = 500


def multi_weights(project: Project) -> dict[str, float]:
    """MULTI_WEIGHTS updated by the project's acquisition_weights (other names ignored)."""
    weights = dict(MULTI_WEIGHTS)
    for name, value in (project.acquisition_weights or {}).items():
        if name in weights:
            weights[name] = float(value)
    return weights


def _labeled_thumbnails(project: Project) -> np.ndarray:
    ids = labeled_frame_ids(project)
    picked = [ids[i] for i in spread(np.arange(len(ids)), MAX_LABELED_THUMBNAILS)] if ids else []
    frames = Frame.objects.filter(pk__in=picked)
    thumbs = []
    for frame in frames:
        try:
            thumbs.append(thumbnail(load_image(local_image_path(frame))))
        except (OSError, ValueError):
            continue
    return np.stack(thumbs) if thumbs else np.zeros((0, 256), np.float32)


def _scored(predictor: Any, items: Iterator[tuple[Hashable, np.ndarray]], batch_size: int,
            progress: Progress, total: int) -> tuple[list[Key], list[np.ndarray], np.ndarray]:
    keys: list[Key] = []
    animals: list[np.ndarray] = []
    thumbs: list[np.ndarray] = []
    batch: list[tuple[Hashable, np.ndarray]] = []

    def flush() -> None:
        animals.extend(predictor.predict([img for _, img in batch]))
        keys.extend(k for k, _ in batch)  # type: ignore[misc]
        thumbs.extend(thumbnail(img) for _, img in batch)
        batch.clear()
        progress(0.05 + 0.8 * len(keys) / max(total, 1), f"Scored {len(keys)}/{total} frames")

    for item in items:
        batch.append(item)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return keys, animals, np.stack(thumbs) if thumbs else np.zeros((0, 256), np.float32)


def _components(raw: dict[str, np.ndarray], normed: dict[str, np.ndarray],
                weights: dict[str, float], scores: np.ndarray, animals: list[np.ndarray],
                row: int, strategy: str) -> tuple[dict[str, Any], str]:
    comps: dict[str, Any] = {"score": round(float(scores[row]), 4),
                             "animals": int(np.isfinite(animals[row][..., :2]).all(axis=-1)
                                            .any(axis=-1).sum()) if len(animals[row]) else 0}
    best, best_value = "coverage", -1.0
    for name, values in raw.items():
        comps[name] = round(float(values[row]), 4)
        contribution = weights.get(name, 0.0) * float(normed[name][row])
        if contribution > best_value:
            best, best_value = name, contribution
    reason = QueueReason.DIVERSITY
    if strategy in (SelectionStrategy.UNCERTAINTY, SelectionStrategy.HYBRID):
        reason = REASON_OF[best]
    return comps, str(reason)


def score_multi_project(project: Project, version: ModelVersion, *, progress: Progress,
                        max_candidates: int | None = None, batch_size: int = BATCH_SIZE,
                        seed: int = 0) -> ScoreSummary:
    """`scoring.score_project` for a multi-animal project (the caller checked the version is
    current and ready)."""
    start = time.perf_counter()
    strategy = project.selection_strategy
    predictor = loaded_predictor(version)
    live, _, ever_queued = queue_state(project.pk, MULTI_REASONS, version.pk)
    needed = min(project.selection_batch_size, max(0, project.queue_size - live))
    if needed == 0:
        return _skip(version.pk, strategy, "queue is full", start)
    budget = int(max_candidates or settings.SCORING_MAX_CANDIDATES)
    progress(0.02, "Preparing labeled frames")
    labeled = _labeled_thumbnails(project)
    labeled_set = set(labeled_frame_ids(project))
    existing = list(Frame.objects.filter(project=project).exclude(pk__in=labeled_set)
                    .exclude(pk__in=ever_queued).order_by("id")[:max(1, budget // 2)])
    plan = _video_plan(project, budget - len(existing), version.pk)
    total = sum(len(ix) for _, ix in plan) + len(existing)

    def items() -> Iterator[tuple[Hashable, np.ndarray]]:
        for video, indices in plan:
            yield from video_stream(video, indices)
        yield from frame_stream(existing)

    keys, animals, thumbs = _scored(predictor, items(), batch_size, progress, total)
    if not keys:
        return _skip(version.pk, strategy, "no candidate frames", start)
    raw = frame_scores(animals, expected=project.max_animals if not project.individuals
                       else len(project.individuals))
    raw["coverage"] = coverage(thumbs, labeled)
    weights = multi_weights(project)
    if strategy == SelectionStrategy.UNCERTAINTY:
        weights["coverage"] = 0.0
    scores, normed = weighted_ranks(raw, weights)
    progress(0.87, "Choosing frames")
    rows = choose(strategy, np.asarray(scores), thumbs, np.ones(len(keys), bool), labeled,
                  needed, seed)
    chosen = {keys[r]: _components(raw, normed, weights, np.asarray(scores), animals, r,
                                   strategy) for r in rows}
    progress(0.9, f"Saving {len(rows)} frames")
    enqueued = _enqueue_chosen(project, chosen, strategy, version.pk)
    created = sum(1 for key in chosen if key[0] == "video")
    return ScoreSummary(version_id=version.pk, strategy=strategy, candidates=len(keys),
                        needed=needed, created_frames=created, enqueued=enqueued, reranked=0,
                        seconds=round(time.perf_counter() - start, 2), skipped="",
                        suspect_label_frame_ids=[])



"""Active-learning scoring speed vs plain inference on the same decoded frames (CPU).

Decodes --frames frames of the video once (sequentially, kept in memory for the benchmark
only, so that decoding is timed by neither side), then alternates plain inference
(`predict_images`) and scoring (`StreamScorer`: the forward with embeddings, every cheap score,
the costly scores on EXTRAS_FRACTION of the frames, temporal, coverage, combine and the
hybrid choice) --repeats times and keeps the best time of each. Uses the project's current
model, else a network with the engine's default config and random weights (speed only).
overhead_share = share of scoring time that plain inference does not spend (goal <= 1/6,
i.e. scoring costs <= 20 % more); forward_share = share of scoring time in the main forward.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any, TextIO

import cv2
import numpy as np
import torch

from learning.engine.config import ModelConfig
from learning.engine.embed import StreamScorer, score_stream
from learning.engine.network import PoseNet, build_model
from learning.engine.predict import predict_images
from learning.engine.selection import coverage_distance, hybrid_pick
from learning.engine.uncertainty import DEFAULT_WEIGHTS, combine, temporal_inconsistency
from learning.selection.scoring import EXTRAS_FRACTION
from learning.training.registry import current_version, loaded_model
from projects.models import Project
from videos.files import local_video_path
from videos.models import Video
from videos.sampling import iter_frames


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--project", required=True, help="Project name (its current model).")
    parser.add_argument("--video", help="Video file path (default: the project's first video).")
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pick", type=int, default=20, help="Frames to choose.")
    parser.add_argument("--extras-fraction", type=float, default=EXTRAS_FRACTION,
                        dest="extras_fraction")


def _model(project: Project, out: TextIO) -> tuple[PoseNet, ModelConfig, PoseNet | None]:
    version = current_version(project)
    if version is not None and version.checkpoint:
        model, cfg = loaded_model(version)
        out.write(f"model: version {version.iteration} of {project.name}\n")
        return model, cfg, None
    cfg = ModelConfig(num_keypoints=max(1, project.bodyparts.count()), pretrained=None)
    out.write("model: no current model; default config with random weights (speed only)\n")
    torch.manual_seed(0)
    previous = build_model(cfg).eval()
    torch.manual_seed(1)
    return build_model(cfg).eval(), cfg, previous


def _frames(project: Project, video_path: str | None, n: int) -> list[np.ndarray]:
    if video_path:
        return [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for _, f in iter_frames(video_path, range(n))]
    video = Video.objects.filter(project=project, deleted_at__isnull=True).first()
    if video is None:
        raise ValueError(f"project {project.name!r} has no video; pass --video")
    n = min(n, video.frame_count)
    with local_video_path(video) as path:
        return [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for _, f in iter_frames(path, range(n))]


def _score(model: PoseNet, cfg: ModelConfig, previous: PoseNet | None,
           frames: list[np.ndarray], batch: int, pick: int, fraction: float
           ) -> tuple[float, float, int]:
    start = time.perf_counter()
    scorer = StreamScorer(model, cfg, flip_pairs=(), previous=None if previous is None
                          else (previous, cfg), extras_fraction=fraction)
    scored = score_stream(scorer, enumerate(frames), batch)
    scored.components["temporal"] = temporal_inconsistency(scored.poses)
    labeled = scored.embeddings[:: max(1, len(frames) // 10)]
    scored.components["coverage"] = coverage_distance(scored.embeddings, labeled)
    scores = combine(scored.components, DEFAULT_WEIGHTS)
    hybrid_pick(scored.embeddings, scores, pick, labeled=labeled)
    return time.perf_counter() - start, scorer.forward_s, scorer.extras_frames


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    """Print the timings; return {"frames", "fps_scoring", "fps_inference", "overhead_share"}."""
    project = Project.objects.get(name=options["project"])
    model, cfg, previous = _model(project, stdout)
    frames = _frames(project, options.get("video"), options["frames"])
    stdout.write(f"decoded {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}; "
                 f"{torch.get_num_threads()} threads\n")
    best_infer = best_score = float("inf")
    forward_s, extras = 0.0, 0
    for repeat in range(options["repeats"]):
        start = time.perf_counter()
        predict_images(model, cfg, frames, options["batch"])
        infer_s = time.perf_counter() - start
        score_s, fwd, extras = _score(model, cfg, previous, frames, options["batch"],
                                      options["pick"], options["extras_fraction"])
        stdout.write(f"repeat {repeat}: inference {infer_s:.2f} s, scoring {score_s:.2f} s "
                     f"(main forward {fwd:.2f} s, costly scores on {extras} frames)\n")
        best_infer = min(best_infer, infer_s)
        if score_s < best_score:
            best_score, forward_s = score_s, fwd
    n = len(frames)
    result = {
        "frames": n,
        "fps_scoring": round(n / best_score, 2),
        "fps_inference": round(n / best_infer, 2),
        "overhead_share": round(max(0.0, 1.0 - best_infer / best_score), 3),
        "extra_cost": round(best_score / best_infer - 1.0, 3),
        "forward_share": round(forward_s / best_score, 3),
    }
    stdout.write(f"scoring costs {100 * result['extra_cost']:.0f} % more than inference\n")
    return result

"""Multi-animal benchmark: train on a frame range, test on another, track the whole video.

`python manage.py bench multi --project NAME --minutes M --train-frames A:B --max-train N
--test-frames C:D [--design topdown|bottomup]`: the project's labeled frames of its first
video with index in [A, B) (at most N, spread evenly) train the design for M minutes; the
labeled frames in [C, D) with exactly `--test-animals` animals (default: the project's
animals) are the test set: OKS mAP (COCO-style, 0.50:0.95) and the median part error after
matching animals (`--checkpoint FILE` re-measures a saved model, `--keep FILE` saves the
trained one; `--precision` sets the forward passes' precision). Then the whole video is
analysed as the platform does (decode, every animal of every frame, tracking) for the
end-to-end frames per second, and the tracks over [C, D) are compared with the labels'
tracks for identity switches (MOT's IDSW). `--diagnose` adds the checks of
`multi_diagnosis` (unused frames of the training range, error by distance to the nearest
training frame, rotated test frames, shifted labels).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from annotation.agreement import consensus_instances
from learning.analysis.multi import track_animals
from learning.engine.data import load_image
from learning.engine.multi.bottomup import BottomUpConfig, train_bottomup
from learning.engine.multi.checkpoint import load_predictor
from learning.engine.multi.fitting import MultiProgress
from learning.engine.multi.metrics import identity_switches, node_errors, oks_map
from learning.engine.multi.precision import PRECISIONS
from learning.engine.multi.predictor import BatchedPredictor
from learning.engine.multi.samples import MultiSample
from learning.engine.multi.topdown import TopDownConfig, train_topdown
from learning.engine.multi.video import analyze_video_animals
from learning.training.datasets import flip_pairs, local_image_path
from learning.training.multi_diagnosis import (
    accuracy,
    error_by_gap,
    error_by_label_shift,
    error_by_rotation,
)
from learning.training.runs import pretrained_weights
from projects.models import Project
from videos.files import local_video_path
from videos.models import Frame, Video
from videos.sampling import spread

DIAGNOSIS_FRAMES = 150  # frames per check of --diagnose


def _range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:STOP") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= START < STOP")
    return a, b


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True)
    parser.add_argument("--minutes", type=float, default=10.0, help="Training budget.")
    parser.add_argument("--train-frames", type=_range, default=(0, 600), metavar="A:B")
    parser.add_argument("--max-train", type=int, default=150)
    parser.add_argument("--test-frames", type=_range, default=(600, 1100), metavar="C:D")
    parser.add_argument("--test-animals", type=int, default=None,
                        help="Test frames have exactly this many labeled animals "
                             "(default: the project's animals).")
    parser.add_argument("--design", choices=("topdown", "bottomup"), default="topdown")
    parser.add_argument("--backbone", default=None, help="Default: the project's.")
    parser.add_argument("--batch-size", type=int, default=16, help="Analysis batch.")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="Save the trained checkpoint here.")
    parser.add_argument("--checkpoint", default=None,
                        help="Measure this saved checkpoint instead of training one.")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="Forward passes' precision (default: the model's, 'auto').")
    parser.add_argument("--diagnose", action="store_true",
                        help="Add `diagnosis`: the error on unused frames of the training "
                             "range, by frames to the nearest training frame, under whole-frame "
                             "rotations and against shifted labels (`multi_diagnosis`).")


def _labeled(project: Project, video: Video) -> tuple[dict[int, MultiSample], dict[int, np.ndarray],
                                                       dict[int, list[str]]]:
    """Per frame index of the video: its sample, its animals (n, K, 2) and their tracks."""
    frames = {f.pk: f for f in Frame.objects.filter(video=video)}
    ids, keypoints, visibility, tracks = consensus_instances(project, list(frames))
    samples, animals, names = {}, {}, {}
    for i, fid in enumerate(ids):
        frame = frames[fid]
        placed = visibility[i].any(axis=1)
        kp = keypoints[i, placed].astype(np.float32)
        samples[frame.frame_index] = MultiSample(local_image_path(frame), kp,
                                                 visibility[i, placed].astype(np.int8))
        animals[frame.frame_index] = keypoints[i, placed]
        names[frame.frame_index] = list(tracks[i])
    return samples, animals, names


def _train(design: str, train: list[MultiSample], project: Project, options: dict[str, Any],
           minutes: float, ckpt: str, stdout: TextIO) -> dict[str, Any]:
    backbone = options["backbone"] or project.backbone
    common = {"backbone": backbone, "pretrained": pretrained_weights(backbone),
              "max_instances": project.max_animals, "seed": options["seed"],
              "num_threads": options["threads"], "precision": options["precision"] or "auto"}
    last = [-1.0]

    def progress(p: MultiProgress) -> None:
        if p.fraction - last[0] >= 0.05:
            last[0] = p.fraction
            stdout.write(f"  {p.stage} {100 * p.fraction:5.1f}%  epoch {p.train.epoch}  "
                         f"loss {p.train.train_loss:.4f}")

    names = project.bodypart_names()
    if design == "topdown":
        cfg = TopDownConfig(**common, flip_pairs=flip_pairs(project))
        result = train_topdown(train, None, cfg, minutes=minutes,
                               keypoint_names=names, progress=progress, checkpoint_path=ckpt)
    else:
        result = train_bottomup(train, None, BottomUpConfig(**common), minutes=minutes,
                                keypoint_names=names, progress=progress, checkpoint_path=ckpt)
    return {"train_seconds": round(result.seconds, 1), "config": result.config.to_dict(),
            "val": result.val}


def _gt_tracks(animals: dict[int, np.ndarray], names: dict[int, list[str]], start: int,
               stop: int, k: int) -> np.ndarray:
    """(stop - start, G, K, 2) labeled animals by track name (NaN where a track is absent)."""
    order = sorted({n for i in range(start, stop) for n in names.get(i, []) if n})
    out = np.full((stop - start, max(1, len(order)), k, 2), np.nan)
    for i in range(start, stop):
        for a, name in zip(animals.get(i, []), names.get(i, []), strict=False):
            if name:
                out[i - start, order.index(name)] = a
    return out


def _diagnose(predictor: BatchedPredictor, samples: dict[int, MultiSample],
              animals: dict[int, np.ndarray], train_idx: list[int], unused: list[int], want: int,
              test_idx: list[int], test_preds: list[np.ndarray]) -> dict[str, Any]:
    """`multi_diagnosis`'s checks, on at most DIAGNOSIS_FRAMES frames each."""
    held_out = [i for i in unused if len(animals[i]) == want]
    held_out = [held_out[j] for j in spread(np.arange(len(held_out)), DIAGNOSIS_FRAMES)]
    held_preds = predictor.predict([load_image(samples[i].image_path) for i in held_out])
    turned = [test_idx[j] for j in spread(np.arange(len(test_idx)), DIAGNOSIS_FRAMES)]
    predicted = dict(zip(test_idx, test_preds, strict=True))
    return {
        "held_out_in_train_range": {"frames": len(held_out), **(accuracy(
            held_preds, [animals[i] for i in held_out]) if held_out else {})},
        "error_by_gap": error_by_gap({**dict(zip(held_out, held_preds, strict=True)),
                                      **predicted}, animals, train_idx),
        "error_by_rotation": error_by_rotation(
            predictor.predict, [load_image(samples[i].image_path) for i in turned],
            [animals[i] for i in turned]),
        "error_by_label_shift": error_by_label_shift(predicted, animals),
    }


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    if options["threads"]:
        torch.set_num_threads(options["threads"])
    project = Project.objects.get(name=options["project"], deleted_at__isnull=True)
    if not project.multi_animal:
        raise ValueError(f"project {project.name!r} is single-animal")
    video = Video.objects.filter(project=project, deleted_at__isnull=True).order_by("id").first()
    if video is None:
        raise ValueError(f"project {project.name!r} has no video")
    samples, animals, names = _labeled(project, video)
    a, b = options["train_frames"]
    c, d = options["test_frames"]
    want = options["test_animals"] or project.max_animals
    pool = sorted(i for i in samples if a <= i < b)
    train_idx = [pool[j] for j in spread(np.arange(len(pool)), options["max_train"])]
    test_idx = sorted(i for i in samples if c <= i < d and len(animals[i]) == want)
    if not train_idx or not test_idx:
        raise ValueError(f"{len(train_idx)} training and {len(test_idx)} test frames: check "
                         "the frame ranges and the project's labels")
    stdout.write(f"{project.name}: {len(train_idx)} training frames from [{a}, {b}), "
                 f"{len(test_idx)} test frames in [{c}, {d}) with {want} animals; "
                 f"{options['design']}, {options['minutes']} min")
    k = len(project.bodypart_names())
    if options["checkpoint"]:
        predictor = load_predictor(options["checkpoint"])
        trained = {"train_seconds": None, "config": predictor.config.to_dict(), "val": None,
                   "checkpoint": options["checkpoint"]}
    else:
        with tempfile.TemporaryDirectory(prefix="poseloop-bench-multi-") as tmp:
            ckpt = options["keep"] or str(Path(tmp) / "model.pt")
            trained = _train(options["design"], [samples[i] for i in train_idx], project,
                             options, options["minutes"], ckpt, stdout)
            predictor = load_predictor(ckpt)
    if options["precision"]:
        predictor.config = dataclasses.replace(predictor.config, precision=options["precision"])
    preds = predictor.predict([load_image(samples[i].image_path) for i in test_idx])
    gts = [animals[i] for i in test_idx]
    trained_on = set(train_idx)
    diagnosis = (_diagnose(predictor, samples, animals, train_idx,
                           [i for i in pool if i not in trained_on], want, test_idx, preds)
                 if options["diagnose"] else None)
    mapped = oks_map(preds, gts)
    errors = np.concatenate([e for e in node_errors(preds, gts) if len(e)] or [np.zeros(0)])
    stdout.write(f"test: OKS mAP {mapped.map_oks:.3f}, median error {np.median(errors):.2f} px")
    started = time.perf_counter()
    with local_video_path(video) as path:
        found = analyze_video_animals(path, predictor, k, project.max_animals, width=video.width,
                                      height=video.height, batch_size=options["batch_size"])
    tracks = track_animals(found, project)
    seconds = time.perf_counter() - started
    fps = len(found) / seconds if seconds > 0 else math.nan
    gt = _gt_tracks(animals, names, c, min(d, len(found)), k)
    switches = identity_switches(tracks.poses[c:min(d, len(found)), :, :, :2], gt)
    stdout.write(f"analysis: {len(found)} frames in {seconds:.1f} s ({fps:.1f} frames/s), "
                 f"{len(tracks.names)} tracks, {switches.count} identity switches in [{c}, {d})")
    return {
        **({"diagnosis": diagnosis} if diagnosis is not None else {}),
        "project": project.name, "design": predictor.KIND,
        "minutes": None if options["checkpoint"] else options["minutes"],
        "precision": predictor.config.precision,
        "n_train": len(train_idx), "n_test": len(test_idx),
        "map_oks": round(float(mapped.map_oks), 4),
        "ap_50": round(float(mapped.ap[0]), 4), "ap_75": round(float(mapped.ap[5]), 4),
        "median_error_px": round(float(np.median(errors)), 3) if errors.size else None,
        "id_switches": switches.count,
        "id_switches_per_1000_frames": round(switches.per_1000_frames, 2),
        "tracks": len(tracks.names), "fps_end_to_end": round(fps, 2),
        "analysed_frames": len(found), "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(), **trained,
    }

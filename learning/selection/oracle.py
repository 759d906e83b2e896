"""Oracle replay: how many labels each frame-selection strategy needs (no database).

A labeled DeepLabCut project plays the annotator. A fixed held-out test set is set aside
(the same for every seed and strategy); the rest is the unlabeled pool, whose labels are
revealed only when a strategy selects a frame. Per seed, the first `initial` frames are drawn
at random (the same for every strategy) and one model is trained on them; then each strategy
runs `rounds` rounds of: select `batch` frames, train for a fixed budget, measure the test
RMSE. Uses the engine and formats directly.

Multi-camera sessions (issue 18): a folder with a board.toml and one sub-folder per camera
(a video and its proofread poses, as mouse-4cam) is read by `load_multiview_data`: every view
of every frame is a pool image, the held-out test set takes whole session frames (all views
of a moment), and the strategy "views3d" labels the views that disagree most in 3D with the
others (`learning.selection.views3d`: the platform's 3D-consistency scoring) at frames spread
in time.

Where a round's training starts (`warm_start`): "previous" continues from the previous
round's model (as the platform does), so the last round has also had the most training;
"round0" starts every round from the round-0 model, so every point of a curve after round 0
has had the same training and differs from the others only by its labels; "none" trains every
round from the initial weights.

Transfer (`init_from`, issue 19): the initial weights are another model's checkpoint (another
dataset's, a zoo model's) transferred onto this dataset's body parts by name
(`engine.transfer`: backbone and head trunk always, the heads of body parts of the same name);
the network's backbone, head channels and heatmap stride then come from that checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from learning.engine.checkpoint import load_checkpoint
from learning.engine.config import DEVICES, AugmentConfig, ModelConfig, TrainConfig
from learning.engine.data import PoseSample, load_image, with_animal_prior
from learning.engine.embed import StreamScorer, forward_with_embeddings, score_stream
from learning.engine.metrics import evaluate
from learning.engine.network import PoseNet
from learning.engine.predict import predict_images
from learning.engine.selection import (
    coverage_distance,
    hybrid_pick,
    kmeans_pick,
)
from learning.engine.train import resolve_device, train
from learning.engine.transfer import TransferReport, default_mapping
from learning.engine.uncertainty import (
    combine,
    default_edges,
    fit_skeleton_stats,
    resolve_weights,
)
from learning.formats.dlc import read_dlc_project
from learning.formats.view_poses import read_view_poses
from learning.geometry.calibration_toml import load_calibration_toml
from learning.geometry.camera import Camera
from learning.geometry.session import calibrate_files
from learning.selection import replay_files
from learning.selection.replay_files import pyplot, seeds_label, write_rows_csv
from learning.selection.views3d import disagreeing_views, pick_frames, score_views
from videos.sampling import consecutive_pairs

SINGLE_VIEW_STRATEGIES: tuple[str, ...] = ("random", "kmeans", "uncertainty", "hybrid")
# "views3d" needs multi-camera data (see the module docstring).
STRATEGIES: tuple[str, ...] = (*SINGLE_VIEW_STRATEGIES, "views3d")
WARM_STARTS: tuple[str, ...] = ("previous", "round0", "none")
TEST_SPLIT_SEED = 20240601
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
Log = Callable[[str], None]


@dataclass(frozen=True)
class ReplayConfig:
    """Budget and model of a replay.

    Each training's budget is `minutes_per_round` of wall-clock time, or, when
    `steps_per_round` is set, that many optimiser steps (whole epochs, at least one): a step
    budget does not depend on how loaded the machine is, so strategies compare fairly.
    `initial_steps` (default: `steps_per_round`) is the step budget of the round-0 model that
    every strategy starts from: a longer one starts the comparison from a model that already
    works, so the rounds measure what the labels add rather than how far training has come.
    """

    strategies: tuple[str, ...] = SINGLE_VIEW_STRATEGIES
    seeds: int = 3
    first_seed: int = 0
    initial: int = 10
    batch: int = 10
    rounds: int = 5
    minutes_per_round: float = 1.0
    steps_per_round: int | None = None
    initial_steps: int | None = None
    hybrid_method: str = "kcenter"
    test_fraction: float = 0.2
    backbone: str = "resnet18"
    input_scale: float = 0.5
    head_channels: int = 64
    lr: float = 2e-3
    warm_start: str = "previous"
    weights: dict[str, float] = field(default_factory=dict)
    threads: int | None = None
    # Multi-camera data only: the scale its frames are extracted at (0.25: 1280 → 320 px).
    image_scale: float = 1.0
    # An engine checkpoint (.pt) every seed's round-0 model (with warm_start "none": every
    # round) starts from, transferred onto the dataset's body parts (see the module docstring).
    init_from: str | None = None
    # Where every round trains and predicts: "auto" picks CUDA when present (engine.config).
    device: str = "auto"
    # Issue 19 item 3: > 0 adds the temporal-consistency loss (engine.temporal) on
    # `temporal_pool` pairs of consecutive frames of `temporal_video` (default: the project's
    # videos/ folder's first video) to every training, at this weight.
    temporal_weight: float = 0.0
    temporal_video: str | None = None
    temporal_pool: int = 256

    def __post_init__(self) -> None:
        unknown = set(self.strategies) - set(STRATEGIES)
        if unknown or not self.strategies:
            raise ValueError(f"strategies must be among {STRATEGIES}, got {self.strategies}")
        if min(self.seeds, self.initial, self.batch) < 1 or min(self.rounds,
                                                                   self.first_seed) < 0:
            raise ValueError("seeds, initial and batch must be >= 1, rounds and first_seed >= 0")
        if self.initial_steps is not None and (self.initial_steps < 1 or not self.steps_per_round):
            raise ValueError("initial_steps must be >= 1 and needs steps_per_round")
        if self.warm_start not in WARM_STARTS:
            raise ValueError(f"warm_start must be one of {WARM_STARTS}, got {self.warm_start!r}")
        if not 0 < self.image_scale <= 1:
            raise ValueError("image_scale must be in (0, 1]")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if not 0 < self.test_fraction < 1 or self.minutes_per_round <= 0:
            raise ValueError("test_fraction must be in (0, 1) and minutes_per_round > 0")
        if self.init_from is not None and not os.path.isfile(self.init_from):
            raise ValueError(f"init_from: no such file {self.init_from}")
        if self.temporal_weight < 0 or self.temporal_pool < 1:
            raise ValueError("temporal_weight must be >= 0 and temporal_pool >= 1")
        if self.temporal_video is not None and not os.path.isfile(self.temporal_video):
            raise ValueError(f"temporal_video: no such file {self.temporal_video}")


# The CI configuration (~2-3 min on 2 CPU cores) and the one used for the report.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": 1, "initial": 4, "batch": 4, "rounds": 1, "steps_per_round": 8,
             "input_scale": 0.25, "head_channels": 16},
    "full": {"seeds": 3, "initial": 10, "batch": 10, "rounds": 4, "steps_per_round": 30,
             "input_scale": 0.5, "head_channels": 64},
}


def strategy_rng(seed: int, strategy_index: int) -> np.random.Generator:
    """A strategy's own random stream in one seed's replay, independent of the initial draw
    (`default_rng(seed)`) and of the other strategies'. Not `default_rng([seed, index])`: for
    index 0 that is the initial draw's stream again, so "random" picked the initial frames'
    neighbours in round 1 (fixed 2026-12-05)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(strategy_index,)))


@dataclass
class OracleData:
    """The labeled project as engine samples, in file order."""

    name: str
    names: list[str]
    samples: list[PoseSample]
    keypoint_names: list[str]
    edges: list[tuple[int, int]]
    flip_pairs: tuple[tuple[int, int], ...]
    # Multi-camera data (`load_multiview_data`): each row's session frame and camera index,
    # the calibrated cameras (full-resolution pixels) and the images' scale to those pixels.
    groups: list[int] | None = None
    views: list[int] | None = None
    cameras: list[Camera] | None = None
    image_scale: float = 1.0


def infer_flip_pairs(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """(left, right) index pairs from names like leftear/rightear or l_paw/r_paw."""
    lower = [n.lower() for n in names]
    pairs = []
    for i, name in enumerate(lower):
        for prefix, other in (("left", "right"), ("l_", "r_")):
            if name.startswith(prefix):
                partner = other + name[len(prefix):]
                if partner in lower:
                    pairs.append((i, lower.index(partner)))
    return tuple(sorted({tuple(sorted(p)) for p in pairs}))  # type: ignore[misc]


def load_oracle_data(project_dir: str | Path) -> OracleData:
    """Read a DeepLabCut project (single animal) into samples, skeleton and flip pairs."""
    project = read_dlc_project(project_dir)
    frames = project.frames
    keypoints = frames.keypoints[:, 0]
    samples = [PoseSample.from_keypoints(str(path), kp)
               for path, kp in zip(project.image_files, keypoints, strict=True)]
    index = {name: k for k, name in enumerate(frames.bodyparts)}
    edges = [(index[a], index[b]) for a, b in frames.skeleton] or default_edges(
        len(frames.bodyparts))
    return OracleData(Path(project_dir).name, list(frames.image_paths), samples,
                      list(frames.bodyparts), edges, infer_flip_pairs(frames.bodyparts))


def split_test(n: int, fraction: float, groups: Sequence[int] | None = None
               ) -> tuple[list[int], list[int]]:
    """(pool rows, test rows): a fixed random split, the same for every seed and strategy.
    With `groups` (a group per row: the views of one moment) whole groups are split."""
    keys = np.arange(n) if groups is None else np.asarray(groups)
    unique = np.unique(keys)
    order = unique[np.random.default_rng(TEST_SPLIT_SEED).permutation(len(unique))]
    test_keys = order[:max(1, round(len(unique) * fraction))]
    in_test = np.isin(keys, test_keys)
    return np.flatnonzero(~in_test).tolist(), np.flatnonzero(in_test).tolist()


def load_multiview_data(root: str | Path, cache: str | Path, image_scale: float = 1.0
                        ) -> OracleData:
    """A multi-camera session as oracle data: `root` holds board.toml and one folder per
    camera with its session video (the .mp4 without "calibration" in its name), its board
    recording (the video with "calibration") and its poses (one .slp or pose table). The
    rig is calibrated once (cached as `cache`/calibration.toml); frames are extracted at
    `image_scale` into `cache`/frames/ and the poses scaled to them."""
    root, cache = Path(root), Path(cache)
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    files: dict[str, dict[str, Path]] = {}
    for name in names:
        videos = [p for p in (root / name).iterdir()
                  if p.suffix.lower() in VIDEO_SUFFIXES]
        poses = [p for p in (root / name).iterdir() if p.suffix.lower() in (".slp", ".h5")]
        board = [p for p in videos if "calibration" in p.name.lower()]
        session = [p for p in videos if "calibration" not in p.name.lower()]
        if len(board) != 1 or len(session) != 1 or len(poses) != 1:
            raise ValueError(f"{root / name}: need one session video, one board recording "
                             f"and one pose file")
        files[name] = {"board": board[0], "video": session[0], "poses": poses[0]}
    toml = cache / "calibration.toml"
    if not toml.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        calibrate_files(root / "board.toml", {n: f["board"] for n, f in files.items()}, toml)
    by_name = {c.name: c for c in load_calibration_toml(toml)}
    cameras = [by_name[n] for n in names]
    views = [read_view_poses(files[n]["poses"]) for n in names]
    bodyparts = views[0].bodyparts
    if any(v.bodyparts != bodyparts for v in views):
        raise ValueError("the cameras' pose files name different body parts")
    n_frames = min(len(v.points) for v in views)
    samples, rows, groups, cams = [], [], [], []
    for c, name in enumerate(names):
        paths = _extract_frames(files[name]["video"], cache / "frames" / name, n_frames,
                                image_scale)
        for t, path in enumerate(paths):
            kp = (views[c].points[t] + 0.5) * image_scale - 0.5  # pixel centres at integers
            samples.append(PoseSample.from_keypoints(str(path), kp))
            rows.append(f"{name}/{path.name}")
            groups.append(t)
            cams.append(c)
    index = {b: k for k, b in enumerate(bodyparts)}
    edges = [(index[a], index[b]) for a, b in views[0].edges if a in index and b in index]
    return OracleData(root.name, rows, samples, list(bodyparts),
                      edges or default_edges(len(bodyparts)), infer_flip_pairs(bodyparts),
                      groups, cams, cameras, image_scale)


def _extract_frames(video: Path, out: Path, n: int, scale: float) -> list[Path]:
    """The first n frames of `video` as PNGs in `out` at `scale` (kept between runs)."""
    paths = [out / f"{t:04d}.png" for t in range(n)]
    if all(p.is_file() for p in paths):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    try:
        for path in paths:
            ok, bgr = capture.read()
            if not ok:
                raise ValueError(f"{video}: fewer than {n} frames")
            if scale != 1.0:
                bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(path), bgr)
    finally:
        capture.release()
    return paths


def load_data(path: str | Path, cfg: ReplayConfig, out: Path) -> OracleData:
    """A DeepLabCut project, or a multi-camera session folder (it has a board.toml)."""
    if (Path(path) / "board.toml").is_file():
        return load_multiview_data(path, out / "multiview-cache", cfg.image_scale)
    if "views3d" in cfg.strategies:
        raise ValueError("strategy views3d needs a multi-camera session folder (board.toml)")
    return load_oracle_data(path)


def temporal_frames(project_dir: str | Path, cfg: ReplayConfig
                    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The unlabeled frame pairs of `cfg.temporal_weight` (None when it is 0): from
    `cfg.temporal_video`, else the first video in the project's videos/ folder."""
    if cfg.temporal_weight <= 0:
        return None
    video = cfg.temporal_video
    if video is None:
        folder = Path(project_dir) / "videos"
        found = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        if not found:
            raise ValueError(f"temporal_weight needs a video: none in {folder}; "
                             "give temporal_video")
        video = str(found[0])
    return consecutive_pairs(video, cfg.temporal_pool, seed=TEST_SPLIT_SEED)


def checkpoint_file(path: str, workdir: str) -> str:
    """An engine checkpoint's path from `path`: a .pt checkpoint as it is, or a zoo bundle
    (.zip holding model.pt and zoo.json) whose model.pt is extracted into `workdir`."""
    if not os.path.isfile(path):
        raise ValueError(f"no such file {path}")
    if not path.lower().endswith(".zip"):  # torch's own files are zips too
        return path
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a zip file")
    with zipfile.ZipFile(path) as bundle:
        if "model.pt" not in bundle.namelist():
            raise ValueError(f"{path}: a zip without model.pt is not a zoo bundle")
        return bundle.extract("model.pt", workdir)


def init_transfer(init_from: str, keypoint_names: Sequence[str],
                  model_cfg: ModelConfig) -> tuple[ModelConfig, TransferReport]:
    """The replay's model config with the checkpoint's network (backbone, head channels,
    heatmap stride, locref) and what a transfer by name will copy (nothing is trained here)."""
    ckpt = load_checkpoint(init_from)
    source = ckpt["model_config"]
    names = ckpt.get("keypoint_names") or []
    if not names:
        raise ValueError(f"{init_from}: the checkpoint does not name its body parts")
    cfg = dataclasses.replace(model_cfg, backbone=source["backbone"],
                              head_channels=source["head_channels"],
                              heatmap_stride=source["heatmap_stride"], locref=source["locref"],
                              pretrained=None)
    mapping = default_mapping(names, keypoint_names)
    return cfg, TransferReport(copied_backbone=True,
                               matched={t: s for t, s in mapping.items() if s is not None},
                               fresh=[t for t, s in mapping.items() if s is None])


class _Replay:
    """One dataset's replay state: cached images, configs, the output rows."""

    def __init__(self, data: OracleData, cfg: ReplayConfig, workdir: str, log: Log,
                 partial: Path | None = None,
                 frame_pairs: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.data, self.cfg, self.workdir, self.log = data, cfg, workdir, log
        self.partial = partial
        self.frame_pairs = frame_pairs
        self.images: dict[int, np.ndarray] = {}
        self.pool, self.test = split_test(len(data.samples), cfg.test_fraction, data.groups)
        self.model_cfg = ModelConfig(
            num_keypoints=len(data.keypoint_names), backbone=cfg.backbone,
            input_scale=cfg.input_scale, head_channels=cfg.head_channels, pretrained="auto")
        self.weights = resolve_weights(cfg.weights)
        self.rows: list[dict[str, Any]] = []
        self.transfer: TransferReport | None = None
        if cfg.init_from is not None:
            self.model_cfg, self.transfer = init_transfer(cfg.init_from, data.keypoint_names,
                                                          self.model_cfg)

    def image(self, row: int) -> np.ndarray:
        if row not in self.images:
            self.images[row] = load_image(self.data.samples[row].image_path)
        return self.images[row]

    def train_cfg(self, seed: int, n_labeled: int, steps: int | None) -> TrainConfig:
        return replay_train_config(n_labeled, steps=steps, minutes=self.cfg.minutes_per_round,
                                   seed=seed, lr=self.cfg.lr, threads=self.cfg.threads,
                                   device=self.cfg.device,
                                   flip_pairs=self.data.flip_pairs,
                                   temporal_weight=self.cfg.temporal_weight)

    def fit(self, labeled: list[int], seed: int, init: str | None, tag: str,
            steps: int | None = None) -> tuple[PoseNet, str, float]:
        path = os.path.join(self.workdir, f"{tag}.pt")
        samples = [self.data.samples[r] for r in labeled]
        # As the platform does: the single-animal prior measured on the labels revealed so far.
        result = train(samples, None, with_animal_prior(self.model_cfg, samples),
                       self.train_cfg(seed, len(labeled), steps or self.cfg.steps_per_round),
                       init_checkpoint=init or self.cfg.init_from,
                       checkpoint_path=path, keypoint_names=self.data.keypoint_names,
                       frame_pairs=self.frame_pairs)
        return result.model, path, result.seconds

    def frame_errors(self, model: PoseNet, rows: list[int]) -> np.ndarray:
        """(len(rows),) mean pixel error of `model` per frame over its visible keypoints."""
        pred = predict_images(model, model.cfg, (self.image(r) for r in rows), batch_size=8)
        gt = self.ground_truth(rows)
        dist = np.linalg.norm(pred[..., :2] - gt, axis=-1)
        with np.errstate(invalid="ignore"):
            return np.array([np.nanmean(d) if np.isfinite(d).any() else np.nan for d in dist])

    def ground_truth(self, rows: list[int]) -> np.ndarray:
        return np.stack([np.where(self.data.samples[r].present[:, None],
                                  self.data.samples[r].keypoints, np.nan) for r in rows])

    def test_rmse(self, model: PoseNet) -> float:
        pred = predict_images(model, model.cfg, (self.image(r) for r in self.test),
                              batch_size=8)
        return float(evaluate(pred, self.ground_truth(self.test))["rmse_px"])

    def embeddings(self, model: PoseNet, rows: list[int]) -> np.ndarray:
        chunks = [forward_with_embeddings(model, model.cfg,
                                          [self.image(r) for r in rows[i:i + 8]]).embeddings
                  for i in range(0, len(rows), 8)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 1), np.float32)

    def select(self, strategy: str, model: PoseNet, previous: PoseNet | None,
               labeled: list[int], unlabeled: list[int], rng: np.random.Generator) -> list[int]:
        """Rows of `unlabeled` to reveal next."""
        k = min(self.cfg.batch, len(unlabeled))
        if strategy == "random":
            return sorted(rng.choice(unlabeled, size=k, replace=False).tolist())
        if strategy == "views3d":
            return self._fill(self.select_views3d(model, labeled, unlabeled, k), unlabeled, k,
                              rng)
        labeled_emb = self.embeddings(model, labeled)
        if strategy == "kmeans":
            pool_emb = self.embeddings(model, unlabeled)
            rows = kmeans_pick(pool_emb, k, labeled=labeled_emb, seed=int(rng.integers(1 << 30)))
            return self._fill([unlabeled[r] for r in rows], unlabeled, k, rng)
        gt = np.stack([self.data.samples[r].keypoints for r in labeled])
        scorer = StreamScorer(model, model.cfg, flip_pairs=self.data.flip_pairs,
                              skeleton=fit_skeleton_stats(gt, self.data.edges),
                              previous=None if previous is None else (previous, previous.cfg),
                              extras_fraction=1.0)
        scored = score_stream(scorer, ((r, self.image(r)) for r in unlabeled), batch_size=8)
        components = dict(scored.components)
        if strategy == "uncertainty":
            scores = combine(components, self.weights)
            order = np.argsort(-scores, kind="stable")[:k]
            return [unlabeled[r] for r in order]
        components["coverage"] = coverage_distance(scored.embeddings, labeled_emb)
        scores = combine(components, self.weights)
        rows = hybrid_pick(scored.embeddings, scores, k, labeled=labeled_emb,
                           method=self.cfg.hybrid_method, seed=int(rng.integers(1 << 30)))
        return self._fill([unlabeled[r] for r in rows], unlabeled, k, rng)

    def select_views3d(self, model: PoseNet, labeled: list[int], unlabeled: list[int],
                       k: int) -> list[int]:
        """Views that disagree most in 3D with the others, at moments spread in time: every
        view of every pool moment with an unlabeled view is predicted (the platform's
        3D-consistency scoring), labeled views are never picked again."""
        data = self.data
        assert data.groups is not None and data.views is not None and data.cameras
        todo = set(unlabeled)
        moments = sorted({data.groups[r] for r in unlabeled})
        where = {(data.groups[r], data.views[r]): r for r in self.pool}
        cells = [(c, t) for c in range(len(data.cameras)) for t in moments]
        rows = [where.get((t, c)) for c, t in cells]
        known = [r for r in rows if r is not None]
        pred = predict_images(model, model.cfg, (self.image(r) for r in known), batch_size=8)
        poses = np.full((len(cells), len(data.keypoint_names), 3), np.nan)
        poses[[i for i, r in enumerate(rows) if r is not None]] = pred
        poses[..., :2] = (poses[..., :2] + 0.5) / data.image_scale - 0.5  # full-size pixels
        poses = poses.reshape(len(data.cameras), len(moments), -1, 3)
        frame_scores, blame, view_px = score_views(data.cameras, poses, min_score=0.1)
        free = np.array([[where.get((t, c)) in todo for t in moments]
                         for c in range(len(data.cameras))])
        eligible = np.array([frame_scores[f] if any(
            free[c, f] for c in disagreeing_views(blame[:, f], view_px[:, f]))
            else np.nan for f in range(len(moments))])
        gap = max(1, (max(data.groups) + 1) // (2 * k))
        picked: list[int] = []
        for f in pick_frames(np.array(moments), eligible, k, gap):
            for c in disagreeing_views(blame[:, f], view_px[:, f]):
                if free[c, f] and len(picked) < k:
                    picked.append(where[(moments[f], c)])
        return picked

    @staticmethod
    def _fill(picked: list[int], unlabeled: list[int], k: int,
              rng: np.random.Generator) -> list[int]:
        """Top up with random frames when near-duplicate exclusion left fewer than k."""
        rest = [r for r in unlabeled if r not in picked]
        extra = rng.choice(rest, size=min(k - len(picked), len(rest)), replace=False).tolist()
        return picked + extra

    def record(self, strategy: str, seed: int, rnd: int, labeled: list[int], rmse: float,
               train_s: float, select_s: float, picked: list[int],
               errors: tuple[float, float] = (float("nan"), float("nan"))) -> None:
        """One curve point. `errors`: the selecting model's mean per-frame error on the frames
        it picked and on the whole unlabeled pool it picked from (the oracle knows both), so
        the CSV shows whether a strategy finds the frames the model gets wrong."""
        self.rows.append({
            "dataset": self.data.name, "strategy": strategy, "seed": seed, "round": rnd,
            "n_labels": len(labeled), "test_rmse_px": round(rmse, 4),
            "train_s": round(train_s, 1), "select_s": round(select_s, 1),
            "picked_err_px": round(errors[0], 3), "pool_err_px": round(errors[1], 3),
            # file and folder: frames are numbered alike in every video's or camera's folder
            # ("m4s1/img0001.png", "back/0008.png")
            "picked": ";".join("/".join(Path(self.data.names[r]).parts[-2:]) for r in picked),
        })
        if self.partial is not None:  # survives an interrupted run
            with self.partial.open("a") as fh:
                fh.write(json.dumps(self.rows[-1]) + "\n")
        self.log(f"[{self.data.name}] seed {seed} {strategy:<11} round {rnd}: "
                 f"{len(labeled):3d} labels, test RMSE {rmse:7.2f} px "
                 f"(train {train_s:.0f} s, select {select_s:.1f} s)")

    def run_seed(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        initial = sorted(rng.choice(self.pool, size=min(self.cfg.initial, len(self.pool)),
                                    replace=False).tolist())
        model0, ckpt0, secs0 = self.fit(initial, seed, None, f"s{seed}-r0",
                                        self.cfg.initial_steps)
        rmse0 = self.test_rmse(model0)
        for strategy in self.cfg.strategies:
            srng = strategy_rng(seed, STRATEGIES.index(strategy))
            labeled, model, ckpt, previous = list(initial), model0, ckpt0, None
            self.record(strategy, seed, 0, labeled, rmse0, secs0, 0.0, initial)
            for rnd in range(1, self.cfg.rounds + 1):
                unlabeled = [r for r in self.pool if r not in set(labeled)]
                if not unlabeled:
                    break
                start = time.perf_counter()
                picked = self.select(strategy, model, previous, labeled, unlabeled, srng)
                select_s = time.perf_counter() - start
                pool_err = self.frame_errors(model, unlabeled)
                by_row = dict(zip(unlabeled, pool_err, strict=True))
                errors = (float(np.nanmean([by_row[r] for r in picked])),
                          float(np.nanmean(pool_err)))
                labeled = labeled + picked
                previous = copy.deepcopy(model)
                init = {"previous": ckpt, "round0": ckpt0, "none": None}[self.cfg.warm_start]
                model, ckpt, secs = self.fit(labeled, seed, init, f"s{seed}-{strategy}-r{rnd}")
                self.record(strategy, seed, rnd, labeled, self.test_rmse(model), secs, select_s,
                            picked, errors)


def summarize(rows: list[dict[str, Any]], strategies: Sequence[str]) -> dict[str, Any]:
    """Per strategy: mean/std curve over seeds, final RMSE, labels to reach random's final, and
    the mean RMSE over the rounds after the shared round 0 (the area under the learning curve
    per round: less at the mercy of one noisy last point than the final value), and how much
    worse than average the selecting model did on the frames the strategy picked."""
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for strategy in strategies:
        by_labels: dict[int, list[float]] = {}
        for row in rows:
            if row["strategy"] == strategy:
                by_labels.setdefault(int(row["n_labels"]), []).append(float(row["test_rmse_px"]))
        curves[strategy] = [(n, float(np.nanmean(v)), float(np.nanstd(v)))
                            for n, v in sorted(by_labels.items())]
    random_final = curves["random"][-1][1] if curves.get("random") else None
    out: dict[str, Any] = {}
    for strategy, curve in curves.items():
        reach = None
        if random_final is not None:
            reach = next((n for n, mean, _ in curve if mean <= random_final), None)
        after = [mean for _, mean, _ in curve[1:]]
        ratios = [float(r["picked_err_px"]) / float(r["pool_err_px"]) for r in rows
                  if r["strategy"] == strategy and float(r.get("pool_err_px", "nan")) > 0
                  and np.isfinite(float(r["picked_err_px"]))]
        out[strategy] = {
            "final_rmse_px": round(curve[-1][1], 3) if curve else None,
            "labels_to_random_final": reach,
            "mean_rmse_px": round(float(np.mean(after)), 3) if after else None,
            # median over rounds and seeds of (selecting model's mean error on the picked
            # frames / on the pool): > 1 = it picks frames the model gets more wrong than average
            "picked_error_ratio": round(float(np.median(ratios)), 3) if ratios else None,
            "curve": [[n, round(mean, 3)] for n, mean, _ in curve],
            "spread": [[n, round(std, 3)] for n, _, std in curve],
        }
    return out


def write_outputs(rows: list[dict[str, Any]], summary: dict[str, Any], out_dir: Path,
                  title: str) -> tuple[Path, Path]:
    """results.csv (one row per seed, strategy and round) and rmse_vs_labels.png."""
    csv_path = write_rows_csv(rows, out_dir)
    plt = pyplot()
    means = [m for result in summary["strategies"].values() for _, m in result["curve"]]
    # a failing early model (tens of px) next to a ~4 px plateau: log scale shows both
    log = bool(means) and min(means) > 0 and max(means) / min(means) > 5
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for strategy, result in summary["strategies"].items():
        labels = np.array([n for n, _ in result["curve"]], dtype=float)
        mean = np.array([m for _, m in result["curve"]])
        std = np.array([s for _, s in result["spread"]])
        area = result.get("mean_rmse_px")
        ax.plot(labels, mean, marker="o",
                label=strategy if area is None else f"{strategy} (mean after round 0 {area:.2f})")
        low = np.maximum(mean - std, mean / 3) if log else mean - std
        ax.fill_between(labels, low, mean + std, alpha=0.15)
    finish_rmse_axes(ax, title, log)
    fig.tight_layout()
    png_path = out_dir / "rmse_vs_labels.png"
    fig.savefig(png_path)
    plt.close(fig)
    return csv_path, png_path


def replay_train_config(n_labeled: int, *, steps: int | None, minutes: float, seed: int,
                        lr: float, threads: int | None,
                        flip_pairs: tuple[tuple[int, int], ...],
                        device: str = "auto", temporal_weight: float = 0.0) -> TrainConfig:
    """The replay's training recipe: `steps` optimiser steps rounded up to whole epochs
    (batch size of TrainConfig, last partial batch dropped), else a `minutes` budget."""
    epochs = 100_000
    if steps:
        batch = TrainConfig().batch_size
        per_epoch = n_labeled // batch if n_labeled > batch else 1  # drop_last
        minutes, epochs = 24 * 60.0, max(1, -(-steps // per_epoch))
    return TrainConfig(max_minutes=minutes, max_epochs=epochs, val_fraction=0.0, seed=seed,
                       device=device, lr=lr, num_threads=threads,
                       temporal_weight=temporal_weight,
                       augment=AugmentConfig(flip_pairs=flip_pairs))


def finish_rmse_axes(ax: Any, title: str, log: bool, legend_size: float | None = None) -> None:
    """Labels, scale, grid and legend of a test-RMSE-vs-labels plot (replay and transfer)."""
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("labeled frames")
    ax.set_ylabel("test RMSE (px)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)


def _title(name: str, seeds: int) -> str:
    return f"{name}: test RMSE vs labels ({seeds_label(seeds)})"


def summarize_partial(out_dir: str | Path) -> dict[str, Any]:
    """Summarise an interrupted run from its results.partial.jsonl (complete seeds only) and
    write results.csv, rmse_vs_labels.png and summary.json beside it, as `replay` would."""
    return replay_files.summarize_partial(out_dir, summarize, write_outputs, _title)


def replay(project_dir: str | Path, cfg: ReplayConfig, out_dir: str | Path,
           log: Log = lambda message: None) -> dict[str, Any]:
    """Run the replay and write results.csv, rmse_vs_labels.png and summary.json to out_dir.

    Returns {"strategies": {name: {final_rmse_px, labels_to_random_final, curve, spread}},
    "dataset", "seeds", "config", "n_pool", "n_test", "seconds"}.
    """
    start = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(project_dir, cfg, out)
    partial = out / "results.partial.jsonl"
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="poseloop-oracle-") as workdir:
        state = _Replay(data, cfg, workdir, log, partial, temporal_frames(project_dir, cfg))
        log(f"[{data.name}] {len(data.samples)} frames: pool {len(state.pool)}, "
            f"test {len(state.test)}; strategies {', '.join(cfg.strategies)}")
        if state.transfer is not None:
            log(f"[{data.name}] starting from {cfg.init_from} ({state.model_cfg.backbone}, "
                f"head {state.model_cfg.head_channels}): matched {state.transfer.matched}, "
                f"fresh {state.transfer.fresh}")
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            state.run_seed(seed)
    summary = {
        "strategies": summarize(state.rows, cfg.strategies),
        "dataset": data.name,
        "seeds": cfg.seeds,
        "config": dataclasses.asdict(cfg),
        "device": str(resolve_device(cfg.device)),
        "n_pool": len(state.pool),
        "n_test": len(state.test),
        "seconds": round(time.perf_counter() - start, 1),
        "init_from": cfg.init_from,
        "transfer": state.transfer.to_dict() if state.transfer is not None else None,
    }
    csv_path, png_path = write_outputs(state.rows, summary, out, _title(data.name, cfg.seeds))
    summary["csv"], summary["plot"] = str(csv_path), str(png_path)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

"""Multi-animal oracle replay (issue 17 item 5): labels each frame-selection strategy needs on a
SLEAP file, measured in test OKS mAP (no database).

The oracle is the file's instances on the frames of its first video: a frame's user instances,
or, where it has none (flies-pair has no user instance at all), its predicted ones by
descending score. The expected number of animals is the most common count per frame; frames
with more instances than that (false detections) are left out of pool and test, frames with
fewer (a missed animal) may be labeled but are never test frames. Movie frames are decoded
once into PNGs under the frame cache (`oracle._extract_frames`), which later runs reuse.

The held-out test set is fixed (the same for every seed and strategy): `n_test` frames with
exactly the expected animals, spread evenly over the last `test_part` of the video, not a
contiguous block (consecutive frames are nearly identical, so a block would measure few
distinct situations). A frame within `guard` frames of a test frame (±2 by default) is never
in the pool, so no label is a near-copy of a test frame; the pool is every other kept frame.

Per seed, the first `initial` frames are drawn at random from the pool (the same for every
strategy) and the round-0 model trained on them; then each strategy runs `rounds` rounds of:
select `batch` frames, train a top-down model from scratch (the engine has no multi-animal warm
start) for the fixed budget, measure test OKS mAP and the median part error after matching
animals. Strategies: "random"; "uniform" (evenly spaced in time: each pick is the unlabeled
frame farthest in frame index from every labeled or picked one); "active" (the previous
round's model predicts the unlabeled frames, `engine.multi.acquisition` scores them and adds
thumbnail coverage, combined as the platform's multi-animal scoring does, then `hybrid_pick`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from learning.engine.config import DEVICES
from learning.engine.data import load_image
from learning.engine.multi.acquisition import (
    MULTI_WEIGHTS,
    coverage,
    frame_scores,
    thumbnail,
    weighted_ranks,
)
from learning.engine.multi.checkpoint import load_predictor
from learning.engine.multi.config import TopDownConfig
from learning.engine.multi.metrics import node_errors, oks_map
from learning.engine.multi.samples import MultiSample
from learning.engine.multi.topdown import train_topdown
from learning.engine.selection import default_radius, hybrid_pick
from learning.engine.train import resolve_device
from learning.formats.sleap import SlpContents, SlpFrame, read_slp_instances
from learning.selection import replay_files
from learning.selection.oracle import _extract_frames, infer_flip_pairs, strategy_rng
from learning.selection.replay_files import pyplot, write_rows_csv

STRATEGIES: tuple[str, ...] = ("random", "uniform", "active")
Log = Callable[[str], None]


class Predictor(Protocol):
    """What a replay needs of a multi-animal predictor: poses per frame (n, K, 3)."""

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class MultiReplayConfig:
    """Budget, test set and model of a multi-animal replay.

    Each training's budget is `minutes_per_round`, or, when `steps_per_round` is set, that many
    steps of the centroid network turned into whole epochs (batch `batch_size`) that both
    networks train for (the instance network, fed one crop per animal, makes about `animals`
    times the steps): a step budget does not depend on how loaded the machine is.
    `max_candidates`: the active strategy predicts at most this many unlabeled frames per round,
    spread evenly in time (None: all of them). `reach`: the mAP levels whose "labels to reach"
    the summary reports.
    """

    strategies: tuple[str, ...] = STRATEGIES
    seeds: int = 1
    first_seed: int = 0
    initial: int = 10
    batch: int = 10
    rounds: int = 3
    minutes_per_round: float = 1.0
    steps_per_round: int | None = None
    n_test: int = 60
    test_part: float = 0.4
    guard: int = 2
    max_candidates: int | None = None
    backbone: str = "resnet18"
    pretrained: str | None = "auto"
    head_channels: int = 32
    batch_size: int = 8
    lr: float = 2e-3
    weights: dict[str, float] = field(default_factory=dict)
    threads: int | None = None
    reach: tuple[float, ...] = (0.5, 0.7, 0.8)
    # Where every round trains and predicts: "auto" picks CUDA when present (engine.config).
    device: str = "auto"

    def __post_init__(self) -> None:
        unknown = set(self.strategies) - set(STRATEGIES)
        if unknown or not self.strategies:
            raise ValueError(f"strategies must be among {STRATEGIES}, got {self.strategies}")
        if min(self.seeds, self.initial, self.batch, self.n_test) < 1 or min(
                self.rounds, self.first_seed, self.guard) < 0:
            raise ValueError("seeds, initial, batch and n_test must be >= 1, rounds, first_seed "
                             "and guard >= 0")
        if not 0 < self.test_part <= 1 or self.minutes_per_round <= 0:
            raise ValueError("test_part must be in (0, 1] and minutes_per_round > 0")
        if self.steps_per_round is not None and self.steps_per_round < 1:
            raise ValueError("steps_per_round must be >= 1")
        if self.max_candidates is not None and self.max_candidates < self.batch:
            raise ValueError("max_candidates must be at least batch")
        bad = set(self.weights) - set(MULTI_WEIGHTS)
        if bad:
            raise ValueError(f"weights: unknown scores {sorted(bad)}; known {list(MULTI_WEIGHTS)}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")


# "tiny": a smoke run (about a minute on 2 CPU cores); "full": the report's shape, about
# 15 minutes on flies-pair on 2 CPU cores (10 trainings of ~40 centroid steps each).
MULTI_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": 1, "initial": 4, "batch": 4, "rounds": 1, "steps_per_round": 4,
             "n_test": 10, "head_channels": 16, "max_candidates": 40},
    "full": {"seeds": 1, "initial": 10, "batch": 10, "rounds": 3, "steps_per_round": 40,
             "n_test": 60, "head_channels": 32, "max_candidates": 200},
}


@dataclass
class MultiOracleData:
    """The kept frames of a SLEAP file as engine samples, in frame order.

    frame_indices: per row, the movie frame; counts: per row, the oracle's animals.
    """

    name: str
    frame_indices: list[int]
    samples: list[MultiSample]
    counts: list[int]
    keypoint_names: list[str]
    flip_pairs: tuple[tuple[int, int], ...]
    expected: int
    left_out: int


def oracle_instances(contents: SlpContents, frame: SlpFrame) -> np.ndarray:
    """float64 (n, K, 2): the frame's user instances, else its predicted ones by descending
    score; instances without any point are dropped."""
    user = [i for i in frame.instances if not i.predicted]
    chosen = user or sorted((i for i in frame.instances if i.predicted),
                            key=lambda i: -(i.score or 0.0))
    points = [i.points for i in chosen if np.isfinite(i.points).all(axis=1).any()]
    k = len(contents.bodyparts)
    return np.stack(points) if points else np.zeros((0, k, 2))


def load_slp_data(slp: str | Path, cache: str | Path, video_dir: str | Path | None = None
                  ) -> MultiOracleData:
    """Read a .slp file's first video as oracle data (see the module docstring); a movie's
    frames are decoded once into `cache`/<movie name>-<size>/ and reused."""
    contents = read_slp_instances(slp, video_dir)
    if not contents.videos:
        raise ValueError(f"{slp}: no video")
    frames = sorted((f for f in contents.frames if f.video_index == 0),
                    key=lambda f: f.frame_idx)
    animals = {f.frame_idx: oracle_instances(contents, f) for f in frames}
    counts = [len(a) for a in animals.values() if len(a)]
    if not counts:
        raise ValueError(f"{slp}: no instance on its first video")
    expected = int(np.bincount(counts).argmax())
    kept = [i for i, a in animals.items() if 0 < len(a) <= expected]
    video = contents.videos[0]
    if isinstance(video, list):  # an image sequence: its images are the frames
        paths = [video[i] for i in kept]
    else:
        movie = Path(video)
        folder = Path(cache) / f"{movie.name}-{movie.stat().st_size}"
        every = _extract_frames(movie, folder, max(kept) + 1, 1.0)
        paths = [str(every[i]) for i in kept]
    k = len(contents.bodyparts)
    samples = [MultiSample.from_instances(p, animals[i], k) for p, i in zip(paths, kept,
                                                                             strict=True)]
    return MultiOracleData(Path(slp).stem, kept, samples, [len(animals[i]) for i in kept],
                           list(contents.bodyparts), infer_flip_pairs(contents.bodyparts),
                           expected, sum(len(a) > expected for a in animals.values()))


def split_test(frame_indices: Sequence[int], counts: Sequence[int], expected: int,
               n_test: int, test_part: float, guard: int) -> tuple[list[int], list[int]]:
    """(pool rows, test rows): `n_test` rows with `expected` animals spread evenly over the
    last `test_part` of the frame range; the pool is every other row more than `guard` frames
    from every test frame."""
    idx = np.asarray(frame_indices)
    start = idx.min() + (1.0 - test_part) * (idx.max() - idx.min() + 1)
    eligible = [r for r in range(len(idx)) if counts[r] == expected and idx[r] >= start]
    if not eligible:
        raise ValueError(f"no frame with {expected} animals in the last {test_part:.0%} "
                         "of the video to test on")
    spots = np.unique(np.round(np.linspace(0, len(eligible) - 1, min(n_test, len(eligible)))))
    test = [eligible[int(s)] for s in spots]
    test_frames = idx[test]
    pool = [r for r in range(len(idx))
            if np.abs(test_frames - idx[r]).min() > guard]
    return pool, test


def spaced_in_time(candidates: Sequence[int], taken: Sequence[int], k: int) -> list[int]:
    """Positions in `candidates` (frame indices) of k frames evenly spaced in time: greedily the
    candidate farthest from every taken or already picked frame (ties: the earliest); without
    taken frames the first pick is the middle candidate."""
    cand = np.asarray(candidates, dtype=np.int64)
    if len(cand) == 0 or k <= 0:
        return []
    ref = np.asarray(taken, dtype=np.int64)
    nearest = (np.abs(cand[:, None] - ref[None, :]).min(axis=1).astype(np.float64) if len(ref)
               else np.full(len(cand), np.inf))
    picked: list[int] = []
    for _ in range(min(k, len(cand))):
        gain = np.where(np.isin(np.arange(len(cand)), picked), -1.0, nearest)
        best = len(cand) // 2 if np.isinf(gain).all() else int(np.argmax(gain))
        picked.append(best)
        nearest = np.minimum(nearest, np.abs(cand - cand[best]))
    return picked


def spread_rows(rows: Sequence[int], n: int | None, rng: np.random.Generator) -> list[int]:
    """At most n of `rows`, evenly spaced with a random offset (all of them when n is None)."""
    if n is None or len(rows) <= n:
        return list(rows)
    step = len(rows) / n
    offset = rng.uniform(0, step)
    return [rows[min(len(rows) - 1, int(offset + i * step))] for i in range(n)]


def epochs_for(steps: int, n_frames: int, batch_size: int) -> int:
    """Whole epochs holding `steps` optimiser steps on n_frames (last partial batch dropped)."""
    per_epoch = n_frames // batch_size if n_frames > batch_size else 1
    return max(1, -(-steps // per_epoch))


class _MultiReplay:
    """One replay's state: the split, cached test images and thumbnails, the output rows."""

    def __init__(self, data: MultiOracleData, cfg: MultiReplayConfig, workdir: str, log: Log,
                 partial: Path | None = None) -> None:
        self.data, self.cfg, self.workdir, self.log, self.partial = data, cfg, workdir, log, partial
        self.pool, self.test = split_test(data.frame_indices, data.counts, data.expected,
                                          cfg.n_test, cfg.test_part, cfg.guard)
        if len(self.pool) < cfg.initial + cfg.batch:
            raise ValueError(f"a pool of {len(self.pool)} frames is too small for {cfg.initial} "
                             f"initial frames and batches of {cfg.batch}")
        self.model_cfg = TopDownConfig(
            backbone=cfg.backbone, pretrained=cfg.pretrained, head_channels=cfg.head_channels,
            max_instances=data.expected, flip_pairs=data.flip_pairs, batch_size=cfg.batch_size,
            lr=cfg.lr, val_fraction=0.0, device=cfg.device, num_threads=cfg.threads)
        self.weights = {**MULTI_WEIGHTS, **cfg.weights}
        self.thumbs: dict[int, np.ndarray] = {}
        self.test_images = [self.image(r) for r in self.test]
        self.test_truth = [data.samples[r].animals for r in self.test]
        self.rows: list[dict[str, Any]] = []

    def image(self, row: int) -> np.ndarray:
        return load_image(self.data.samples[row].image_path)

    def thumbnails(self, rows: Sequence[int]) -> np.ndarray:
        """(len(rows), 256) float32 thumbnails (cached)."""
        for r in rows:
            if r not in self.thumbs:
                self.thumbs[r] = thumbnail(self.image(r))
        return np.stack([self.thumbs[r] for r in rows]) if rows else np.zeros((0, 256),
                                                                              np.float32)

    def fit(self, labeled: list[int], seed: int) -> tuple[Predictor, float]:
        """A top-down model trained from scratch on the labeled rows, and its seconds."""
        minutes, epochs = self.cfg.minutes_per_round, self.model_cfg.max_epochs
        if self.cfg.steps_per_round:
            minutes = 24 * 60.0
            epochs = epochs_for(self.cfg.steps_per_round, len(labeled), self.cfg.batch_size)
        cfg = dataclasses.replace(self.model_cfg, seed=seed, max_epochs=epochs)
        path = os.path.join(self.workdir, "model.pt")
        result = train_topdown([self.data.samples[r] for r in labeled], None, cfg,
                               minutes=minutes, keypoint_names=self.data.keypoint_names,
                               checkpoint_path=path)
        return load_predictor(path, self.model_cfg.device), result.seconds

    def evaluate(self, predictor: Predictor) -> dict[str, float]:
        """Test OKS mAP (COCO-style, 0.50:0.95), AP at OKS 0.5 and the median part error of
        matched animals (px)."""
        preds = predict_all(predictor, self.test_images, self.model_cfg.inference_batch)
        mapped = oks_map(preds, self.test_truth)
        errors = np.concatenate([e for e in node_errors(preds, self.test_truth) if len(e)]
                                or [np.zeros(0)])
        return {"map_oks": float(mapped.map_oks), "ap50": float(mapped.ap[0]),
                "error": float(np.median(errors)) if errors.size else float("nan")}

    def select(self, strategy: str, predictor: Predictor, labeled: list[int],
               unlabeled: list[int], rng: np.random.Generator
               ) -> tuple[list[int], tuple[float, float]]:
        """(rows of `unlabeled` to reveal next, (mean combined score of the picked frames, of
        all scored candidates); NaN for strategies that score nothing)."""
        k = min(self.cfg.batch, len(unlabeled))
        nan = (float("nan"), float("nan"))
        if strategy == "random":
            return sorted(rng.choice(unlabeled, size=k, replace=False).tolist()), nan
        idx = self.data.frame_indices
        if strategy == "uniform":
            spots = spaced_in_time([idx[r] for r in unlabeled], [idx[r] for r in labeled], k)
            return sorted(unlabeled[s] for s in spots), nan
        candidates = spread_rows(unlabeled, self.cfg.max_candidates, rng)
        scores = self.active_scores(predictor, labeled, candidates)
        thumbs, known = self.thumbnails(candidates), self.thumbnails(labeled)
        radius = default_radius(np.concatenate([thumbs, known]))
        rows = hybrid_pick(thumbs, scores, k, labeled=known, radius=radius,
                           seed=int(rng.integers(1 << 30)))
        picked = [candidates[r] for r in rows]
        if len(picked) < k:  # near-duplicates left too few: top up at random
            rest = [r for r in unlabeled if r not in picked]
            picked += rng.choice(rest, size=k - len(picked), replace=False).tolist()
        return sorted(picked), (float(np.mean(scores[rows])) if rows else float("nan"),
                                float(np.mean(scores)))

    def active_scores(self, predictor: Predictor, labeled: list[int], candidates: list[int]
                      ) -> np.ndarray:
        """(len(candidates),) combined scores in [0, 1], as the platform's multi-animal scoring
        combines them: the model's animals on each frame, and thumbnail coverage."""
        animals = predict_all(predictor, [lambda r=r: self.image(r) for r in candidates],
                              self.model_cfg.inference_batch)
        raw = frame_scores(animals, expected=self.data.expected)
        raw["coverage"] = coverage(self.thumbnails(candidates), self.thumbnails(labeled))
        return weighted_ranks(raw, self.weights)[0]

    def record(self, strategy: str, seed: int, rnd: int, labeled: list[int],
               figures: dict[str, float], train_s: float, select_s: float, picked: list[int],
               scores: tuple[float, float] = (float("nan"), float("nan"))) -> None:
        """One curve point; `picked` as movie frame indices."""
        idx = self.data.frame_indices
        self.rows.append({
            "dataset": self.data.name, "strategy": strategy, "seed": seed, "round": rnd,
            "n_labels": len(labeled), "test_map_oks": round(figures["map_oks"], 4),
            "test_ap50": round(figures["ap50"], 4),
            "median_error_px": round(figures["error"], 3),
            "train_s": round(train_s, 1), "select_s": round(select_s, 1),
            "picked_score": round(scores[0], 4), "pool_score": round(scores[1], 4),
            "picked": ";".join(str(idx[r]) for r in picked),
        })
        if self.partial is not None:  # survives an interrupted run
            with self.partial.open("a") as fh:
                fh.write(json.dumps(self.rows[-1]) + "\n")
        self.log(f"[{self.data.name}] seed {seed} {strategy:<8} round {rnd}: "
                 f"{len(labeled):3d} labels, test mAP {figures['map_oks']:.3f}, median error "
                 f"{figures['error']:6.2f} px (train {train_s:.0f} s, select {select_s:.1f} s)")

    def run_seed(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        initial = sorted(rng.choice(self.pool, size=min(self.cfg.initial, len(self.pool)),
                                    replace=False).tolist())
        model0, secs0 = self.fit(initial, seed)
        figures0 = self.evaluate(model0)
        for strategy in self.cfg.strategies:
            srng = strategy_rng(seed, STRATEGIES.index(strategy))
            labeled, model = list(initial), model0
            self.record(strategy, seed, 0, labeled, figures0, secs0, 0.0, initial)
            for rnd in range(1, self.cfg.rounds + 1):
                taken = set(labeled)
                unlabeled = [r for r in self.pool if r not in taken]
                if not unlabeled:
                    break
                start = time.perf_counter()
                picked, scores = self.select(strategy, model, labeled, unlabeled, srng)
                select_s = time.perf_counter() - start
                labeled = labeled + picked
                model, secs = self.fit(labeled, seed)
                self.record(strategy, seed, rnd, labeled, self.evaluate(model), secs, select_s,
                            picked, scores)


Image = np.ndarray | Callable[[], np.ndarray]


def predict_all(predictor: Predictor, images: Sequence[Image], batch: int) -> list[np.ndarray]:
    """The predictor's animals per image, `batch` images at a time; an image may be given as a
    function that loads it (loaded only for its batch)."""
    out: list[np.ndarray] = []
    for i in range(0, len(images), batch):
        chunk = [im() if callable(im) else im for im in images[i:i + batch]]
        out += predictor.predict(chunk)
    return out


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _rounded(value: float, digits: int) -> float | None:
    return round(value, digits) if np.isfinite(value) else None


def summarize(rows: list[dict[str, Any]], strategies: Sequence[str],
              reach: Sequence[float] = (0.5, 0.7, 0.8)) -> dict[str, Any]:
    """Per strategy: per round the labels, mean test mAP (and its sd over seeds) and mean
    median error; the final and mean-after-round-0 mAP; labels to reach random's final mAP and
    each mAP in `reach` (the first round whose mean reaches it; None if none does); and how the
    picked frames' combined score compares with the scored candidates' (active only)."""
    out: dict[str, Any] = {}
    random_final = None
    for strategy in ["random", *[s for s in strategies if s != "random"]]:
        mine = [r for r in rows if r["strategy"] == strategy]
        if not mine and strategy == "random":
            continue
        rounds = []
        for rnd in sorted({int(r["round"]) for r in mine}):
            at = [r for r in mine if int(r["round"]) == rnd]
            maps = [float(r["test_map_oks"]) for r in at]
            rounds.append({"round": rnd, "n_labels": round(_mean([float(r["n_labels"])
                                                                  for r in at])),
                           "map_oks": _rounded(_mean(maps), 4),
                           "map_sd": _rounded(float(np.nanstd(maps)) if maps else np.nan, 4),
                           "median_error_px": _rounded(_mean([float(r["median_error_px"])
                                                              for r in at]), 3)})
        curve = [(p["n_labels"], p["map_oks"]) for p in rounds if p["map_oks"] is not None]
        if strategy == "random" and curve:
            random_final = curve[-1][1]

        def labels_to(level: float | None, curve: list[tuple[int, float]] = curve) -> int | None:
            return None if level is None else next((n for n, m in curve if m >= level), None)

        ratios = [float(r["picked_score"]) / float(r["pool_score"]) for r in mine
                  if float(r.get("pool_score", "nan")) > 0
                  and np.isfinite(float(r["picked_score"]))]
        after = [m for _, m in curve[1:]]
        out[strategy] = {
            "rounds": rounds,
            "final_map_oks": curve[-1][1] if curve else None,
            "final_median_error_px": rounds[-1]["median_error_px"] if rounds else None,
            "mean_map_oks": round(float(np.mean(after)), 4) if after else None,
            "labels_to_random_final": labels_to(random_final),
            "labels_to_reach": {str(level): labels_to(level) for level in reach},
            # median over rounds and seeds of (picked frames' mean score / candidates' mean)
            "picked_score_ratio": round(float(np.median(ratios)), 3) if ratios else None,
        }
    return {s: out[s] for s in strategies if s in out}


def write_outputs(rows: list[dict[str, Any]], summary: dict[str, Any], out_dir: Path,
                  title: str) -> tuple[Path, Path]:
    """results.csv (one row per seed, strategy and round) and map_vs_labels.png (test OKS mAP
    and median error against labeled frames, per strategy)."""
    csv_path = write_rows_csv(rows, out_dir)
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for strategy, result in summary["strategies"].items():
        points = [p for p in result["rounds"] if p["map_oks"] is not None]
        labels = np.array([p["n_labels"] for p in points], dtype=float)
        mean = np.array([p["map_oks"] for p in points])
        sd = np.array([p["map_sd"] or 0.0 for p in points])
        left.plot(labels, mean, marker="o", label=strategy)
        left.fill_between(labels, mean - sd, mean + sd, alpha=0.15)
        error = np.array([np.nan if p["median_error_px"] is None else p["median_error_px"]
                          for p in points])
        right.plot(labels, error, marker="o", label=strategy)
    left.set_ylabel("test OKS mAP")
    right.set_ylabel("test median error (px, matched animals)")
    for ax in (left, right):
        ax.set_xlabel("labeled frames")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    png_path = out_dir / "map_vs_labels.png"
    fig.savefig(png_path)
    plt.close(fig)
    return csv_path, png_path


def _title(name: str, seeds: int) -> str:
    return f"{name}: test OKS mAP vs labels ({'1 seed' if seeds == 1 else f'{seeds} seeds'})"


def is_multi_partial(out_dir: str | Path) -> bool:
    """Whether `out_dir`/results.partial.jsonl was written by this replay (its rows hold mAP)."""
    path = Path(out_dir) / "results.partial.jsonl"
    if not path.is_file():
        return False
    first = next((line for line in path.read_text().splitlines() if line), "")
    return bool(first) and "test_map_oks" in json.loads(first)


def summarize_partial(out_dir: str | Path) -> dict[str, Any]:
    """Summarise an interrupted run from its results.partial.jsonl (complete seeds only) and
    write results.csv, map_vs_labels.png and summary.json beside it, as `replay_multi` does."""
    return replay_files.summarize_partial(out_dir, summarize, write_outputs, _title)


def replay_multi(slp: str | Path, cfg: MultiReplayConfig, out_dir: str | Path, *,
                 video_dir: str | Path | None = None, frame_cache: str | Path | None = None,
                 log: Log = lambda message: None) -> dict[str, Any]:
    """Run the replay and write results.csv, map_vs_labels.png and summary.json to out_dir.

    Returns {"strategies": {name: summarize's figures}, "dataset", "seeds", "config",
    "expected_animals", "n_pool", "n_test", "test_frames", "left_out_frames", "seconds"}.
    Frames are cached under `frame_cache` (default `out_dir`/frames).
    """
    start = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_slp_data(slp, frame_cache or out / "frames", video_dir)
    partial = out / "results.partial.jsonl"
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="poseloop-oracle-multi-") as workdir:
        state = _MultiReplay(data, cfg, workdir, log, partial)
        log(f"[{data.name}] {len(data.samples)} frames with at most {data.expected} animals "
            f"({data.left_out} with more left out): pool {len(state.pool)}, test "
            f"{len(state.test)} (frames {data.frame_indices[state.test[0]]}.."
            f"{data.frame_indices[state.test[-1]]}); strategies {', '.join(cfg.strategies)}")
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            state.run_seed(seed)
    summary = {
        "strategies": summarize(state.rows, cfg.strategies, cfg.reach),
        "dataset": data.name,
        "seeds": cfg.seeds,
        "config": dataclasses.asdict(cfg),
        "device": str(resolve_device(cfg.device)),
        "expected_animals": data.expected,
        "n_pool": len(state.pool),
        "n_test": len(state.test),
        "test_frames": [data.frame_indices[r] for r in state.test],
        "left_out_frames": data.left_out,
        "seconds": round(time.perf_counter() - start, 1),
    }
    csv_path, png_path = write_outputs(state.rows, summary, out, _title(data.name, cfg.seeds))
    summary["csv"], summary["plot"] = str(csv_path), str(png_path)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

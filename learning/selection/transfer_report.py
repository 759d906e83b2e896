"""What transfer buys (issue 19): source models and scratch-vs-transfer replay reports.

`train_source` trains one engine checkpoint on every label of a DeepLabCut project (the model
another dataset's replay starts from with `replay_oracle --init-from`). `compare` reads two
`replay_oracle` output folders of the same dataset (from scratch and with `--init-from`),
writes one plot (test RMSE vs labels, mean ± sd over seeds) and returns the figures: error
per label count and the labels the transfer arm needs to reach scratch's final error
(interpolated on its mean curve; None when not reached).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from learning.engine.config import ModelConfig
from learning.engine.data import with_animal_prior
from learning.engine.train import train
from learning.selection.oracle import finish_rmse_axes, load_oracle_data, replay_train_config
from learning.selection.replay_files import complete_seeds, pyplot, seeds_label

Curve = list[tuple[int, float, float, int]]  # (labels, mean RMSE, sd, seeds)


def train_source(project_dir: str | Path, out_path: str | Path, *, steps: int,
                 input_scale: float, backbone: str = "resnet18", head_channels: int = 64,
                 seed: int = 0, threads: int | None = None, lr: float = 2e-3) -> dict[str, Any]:
    """Train on every labeled frame of a DeepLabCut project for `steps` optimiser steps (whole
    epochs, batch 8, last partial batch dropped, as the replay counts them) and save the
    checkpoint (with its body part names) to `out_path`."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    data = load_oracle_data(project_dir)
    cfg = replay_train_config(len(data.samples), steps=steps, minutes=24 * 60.0, seed=seed,
                              lr=lr, threads=threads, flip_pairs=data.flip_pairs)
    epochs = cfg.max_epochs
    per_epoch = max(1, len(data.samples) // cfg.batch_size)
    model_cfg = with_animal_prior(
        ModelConfig(num_keypoints=len(data.keypoint_names), backbone=backbone,
                    input_scale=input_scale, head_channels=head_channels, pretrained="auto"),
        data.samples)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train(data.samples, None, model_cfg, cfg, checkpoint_path=str(out),
          keypoint_names=data.keypoint_names)
    return {"dataset": data.name, "checkpoint": str(out), "frames": len(data.samples),
            "keypoints": data.keypoint_names, "epochs": epochs, "steps": epochs * per_epoch,
            "input_scale": input_scale, "backbone": backbone, "head_channels": head_channels,
            "seconds": round(time.perf_counter() - start, 1)}



def read_rows(folder: str | Path) -> list[dict[str, Any]]:
    """A replay_oracle output folder's rows (results.csv, else results.partial.jsonl: per-seed
    runs concatenated), complete seeds only."""
    folder = Path(folder)
    csv_path, partial = folder / "results.csv", folder / "results.partial.jsonl"
    if csv_path.is_file():
        with csv_path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    elif partial.is_file():
        rows = [json.loads(line) for line in partial.read_text().splitlines() if line.strip()]
    else:
        raise ValueError(f"{folder}: no results.csv or results.partial.jsonl")
    rows = complete_seeds(rows)
    if not rows:
        raise ValueError(f"{folder}: no complete seed")
    return rows


def curve(rows: Sequence[dict[str, Any]], strategy: str = "random") -> Curve:
    """(labels, mean, sd, seeds) per label count of one strategy, over seeds."""
    by_labels: dict[int, list[float]] = {}
    for row in rows:
        if row["strategy"] == strategy:
            by_labels.setdefault(int(row["n_labels"]), []).append(float(row["test_rmse_px"]))
    return [(n, float(np.nanmean(v)), float(np.nanstd(v)), len(v))
            for n, v in sorted(by_labels.items())]


def labels_to_reach(points: Curve, target: float) -> float | None:
    """Labels at which the mean curve first comes down to `target`, linearly interpolated
    between the two label counts around the crossing (the first count when it starts there);
    None when it never does."""
    for i, (n, mean, _, _) in enumerate(points):
        if mean <= target:
            if i == 0:
                return float(n)
            n0, m0 = points[i - 1][0], points[i - 1][1]
            return float(n0 + (m0 - target) / (m0 - mean) * (n - n0))
    return None


def compare(scratch_dir: str | Path, transfer_dir: str | Path, plot: str | Path, *,
            title: str = "", strategy: str = "random",
            names: tuple[str, str] = ("from scratch", "transfer")) -> dict[str, Any]:
    """Scratch vs transfer on one dataset (the seeds complete in both runs): write the plot
    and return the figures. Any two replays of one dataset compare the same way (`names`: the
    arms' names in the plot; the figures keep the keys scratch/transfer)."""
    scratch_rows, transfer_rows = read_rows(scratch_dir), read_rows(transfer_dir)
    # the same seeds in both arms: a seed fixes the initial frames and the frames added
    seeds = {str(r["seed"]) for r in scratch_rows} & {str(r["seed"]) for r in transfer_rows}
    if not seeds:
        raise ValueError("the two runs share no complete seed")
    scratch_rows = [r for r in scratch_rows if str(r["seed"]) in seeds]
    transfer_rows = [r for r in transfer_rows if str(r["seed"]) in seeds]
    datasets = {r["dataset"] for r in [*scratch_rows, *transfer_rows]}
    if len(datasets) != 1:
        raise ValueError(f"the two runs replay different datasets: {sorted(datasets)}")
    scratch, transfer = curve(scratch_rows, strategy), curve(transfer_rows, strategy)
    if not scratch or not transfer:
        raise ValueError(f"no rows of strategy {strategy!r} in one of the runs")
    if [p[0] for p in scratch] != [p[0] for p in transfer]:
        raise ValueError("the two runs have different label counts")
    target = scratch[-1][1]
    reach = labels_to_reach(transfer, target)
    max_labels = scratch[-1][0]
    figures = {
        "dataset": datasets.pop(),
        "strategy": strategy,
        "seeds": sorted(seeds, key=int),
        "labels": [p[0] for p in scratch],
        "scratch_rmse_px": [[round(m, 2), round(s, 2)] for _, m, s, _ in scratch],
        "transfer_rmse_px": [[round(m, 2), round(s, 2)] for _, m, s, _ in transfer],
        "scratch_final_rmse_px": round(target, 2),
        "transfer_labels_to_scratch_final": None if reach is None else round(reach, 1),
        # the same on scratch's own curve: below max_labels when the curve is not monotone
        "scratch_labels_to_scratch_final": round(labels_to_reach(scratch, target) or 0, 1),
        "half_the_labels": reach is not None and reach <= max_labels / 2,
        "plot": str(plot),
    }
    _plot(scratch, transfer, target, reach, Path(plot),
          title or f"{figures['dataset']}: {names[0]} vs {names[1]}", names)
    return figures


def _plot(scratch: Curve, transfer: Curve, target: float, reach: float | None, path: Path,
          title: str, names: tuple[str, str]) -> None:
    plt = pyplot()
    means = [p[1] for p in [*scratch, *transfer]]
    log = min(means) > 0 and max(means) / min(means) > 5
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, points in ((names[0], scratch), (names[1], transfer)):
        labels = np.array([p[0] for p in points], dtype=float)
        mean = np.array([p[1] for p in points])
        sd = np.array([p[2] for p in points])
        seeds = seeds_label(points[-1][3])
        ax.plot(labels, mean, marker="o", label=f"{name} ({seeds})")
        low = np.maximum(mean - sd, mean / 3) if log else mean - sd
        ax.fill_between(labels, low, mean + sd, alpha=0.15)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1,
               label=f"{names[0]} at {scratch[-1][0]} labels: {target:.1f} px")
    if reach is not None:
        ax.plot([reach], [target], marker="x", color="black", markersize=9,
                label=f"{names[1]} reaches it at {reach:.1f} labels")
    else:
        ax.plot([], [], " ", label=f"{names[1]}: not reached within {scratch[-1][0]} labels")
    finish_rmse_axes(ax, title, log, legend_size=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)

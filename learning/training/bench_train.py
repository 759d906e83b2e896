"""Train a project's model with a time budget on its fixed split (or a held-out list); evaluate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import CommandError

from learning.engine.train import TrainProgress, gpu_name
from learning.training.datasets import build_dataset
from learning.training.evaluation import evaluate_model
from learning.training.runs import fit, model_config_for, pretrained_weights, train_config_for
from projects.models import Project
from videos.models import Frame


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, help="Project name.")
    parser.add_argument("--minutes", type=float, default=5.0, help="Training time budget.")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Epoch budget (full training: e.g. --epochs 200 --minutes 90; the "
                             "learning-rate schedule follows whichever budget runs out first).")
    parser.add_argument("--test-list", type=Path, default=None,
                        help="File of held-out CollectedData index paths, one per line "
                             "(matched to Frame.external_path); default: the fixed test split.")
    parser.add_argument("--save", type=Path, default=None,
                        help="Also write the trained model (engine checkpoint) to this file.")
    parser.add_argument("--device", default=None, help="auto, cpu or cuda (default: settings).")
    parser.add_argument("--backbone", default=None, help="Network backbone (default: project's).")
    parser.add_argument("--head-channels", type=int, default=None,
                        help="Heatmap head width (default: the engine's).")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")


def held_out_frames(project: Project, path: Path) -> list[int]:
    """Frame ids of the listed paths; an exact external_path match, else a unique suffix."""
    wanted = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    frames = dict(Frame.objects.filter(project=project).exclude(external_path="")
                  .values_list("external_path", "pk"))
    ids, missing = [], []
    for item in wanted:
        item = item.replace("\\", "/")
        if item in frames:
            ids.append(frames[item])
            continue
        matches = [pk for ext, pk in frames.items() if ext.endswith(item) or item.endswith(ext)]
        if len(matches) == 1:
            ids.append(matches[0])
        else:
            missing.append(item)
    if missing:
        raise CommandError(f"{len(missing)} listed frames are not in the project "
                           f"(e.g. {missing[0]})")
    return ids


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    project = Project.objects.filter(name=options["project"]).first()
    if project is None:
        raise CommandError(f"No project named {options['project']!r}.")
    test_ids = held_out_frames(project, options["test_list"]) if options["test_list"] else None
    data = build_dataset(project, test_frame_ids=test_ids)
    stdout.write(f"{project.name}: {len(data.train)} train, {len(data.test)} test frames\n")
    model_overrides = {key: options[key] for key in ("backbone", "head_channels")
                       if options.get(key)}
    if "backbone" in model_overrides:
        model_overrides["pretrained"] = pretrained_weights(model_overrides["backbone"])
    model_cfg = model_config_for(project, len(data.keypoint_names), model_overrides, data.train)
    overrides: dict[str, Any] = {}
    if options.get("device"):
        overrides["device"] = options["device"]
    if options.get("threads"):
        overrides["num_threads"] = options["threads"]
    if options.get("epochs"):
        overrides["max_epochs"] = options["epochs"]
    train_cfg = train_config_for(options["minutes"], len(data.train), data.flip_pairs, overrides)

    def show(p: TrainProgress) -> None:
        val = f" val {p.val_loss:.4f}" if p.val_loss is not None else ""
        stdout.write(f"epoch {p.epoch} step {p.step} loss {p.train_loss:.4f}{val} "
                     f"{p.elapsed_s:.0f}s\n")

    save = str(options["save"]) if options.get("save") else None
    result = fit(data, model_cfg, train_cfg, on_epoch=show, checkpoint_path=save)
    metrics, _ = evaluate_model(result.model, model_cfg, data.train, data.test,
                                data.keypoint_names)
    return {
        "test_rmse_px": metrics["test_rmse_px"],
        "train_rmse_px": metrics["train_rmse_px"],
        "n_train": len(data.train),
        "n_test": len(data.test),
        "images_per_s": round(result.images_per_s, 2),
        "data_share": round(result.data_share, 3),
        "minutes": options["minutes"],
        "epochs": result.epochs,
        "stopped_by": result.stopped_by,
        "training_s": round(result.seconds, 1),
        "backbone": model_cfg.backbone,
        "head_channels": model_cfg.head_channels,
        "input_scale": model_cfg.input_scale,
        "animal_radius_px": model_cfg.animal_radius_px,
        "device": result.device,
        "gpu": gpu_name(),
    }

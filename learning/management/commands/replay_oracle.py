"""Replay a labeled DeepLabCut project, a multi-camera session or a (multi-animal) SLEAP file as
an oracle annotator to compare selection strategies."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.engine.config import DEVICES
from learning.formats.errors import FormatError
from learning.selection import oracle_multi
from learning.selection.oracle import (
    PRESETS,
    SINGLE_VIEW_STRATEGIES,
    WARM_STARTS,
    ReplayConfig,
    checkpoint_file,
    replay,
    summarize_partial,
)


class Command(BaseCommand):
    help = ("Label-efficiency experiment: test RMSE vs number of labels per selection strategy "
            "(writes results.csv, rmse_vs_labels.png and summary.json), or, for a SLEAP .slp "
            "file, test OKS mAP vs labels of a multi-animal top-down model (strategies random, "
            "uniform, active; writes results.csv, map_vs_labels.png and summary.json). Last "
            "line JSON.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_dir", nargs="?",
                            help="DeepLabCut project folder (config.yaml), or a multi-camera "
                                 "session folder (board.toml, one folder per camera with its "
                                 "video, board recording and poses) such as mouse-4cam, or a "
                                 "SLEAP .slp file (multi-animal: its user instances, else its "
                                 "predicted ones, are the oracle; see --video-dir).")
        parser.add_argument("--from-partial", action="store_true", dest="from_partial",
                            help="Only summarise an interrupted run's results.partial.jsonl "
                                 "in --out (complete seeds); trains nothing.")
        parser.add_argument("--out", required=True, help="Output folder.")
        parser.add_argument("--preset", choices=sorted(PRESETS), default="full",
                            help="Budget defaults (tiny: CI, full: the report).")
        parser.add_argument("--strategies",
                            help="Comma-separated (default: random,kmeans,uncertainty,hybrid; "
                                 "for a .slp file random,uniform,active); views3d (3D "
                                 "consistency: the views that disagree with the other cameras) "
                                 "needs multi-camera data.")
        parser.add_argument("--image-scale", type=float, dest="image_scale",
                            help="Multi-camera data: extract frames at this scale (0.25).")
        parser.add_argument("--seeds", type=int)
        parser.add_argument("--first-seed", type=int, dest="first_seed",
                            help="Run seeds first_seed .. first_seed + seeds - 1 (default 0). "
                                 "Parallel runs of other seeds: concatenate their "
                                 "results.partial.jsonl into one folder, then --from-partial.")
        parser.add_argument("--initial", type=int)
        parser.add_argument("--batch", type=int)
        parser.add_argument("--rounds", type=int)
        parser.add_argument("--minutes-per-round", type=float, dest="minutes_per_round")
        parser.add_argument("--steps-per-round", type=int, dest="steps_per_round",
                            help="Train a fixed number of steps per round instead of minutes.")
        parser.add_argument("--initial-steps", type=int, dest="initial_steps",
                            help="Steps of the round-0 model (default: --steps-per-round).")
        parser.add_argument("--test-fraction", type=float, dest="test_fraction")
        parser.add_argument("--input-scale", type=float, dest="input_scale")
        parser.add_argument("--head-channels", type=int, dest="head_channels")
        parser.add_argument("--backbone")
        parser.add_argument("--threads", type=int)
        parser.add_argument("--device", choices=DEVICES,
                            help="Where rounds train and predict (default auto: CUDA when "
                                 "present).")
        parser.add_argument("--hybrid-method", choices=["cluster", "kcenter"],
                            dest="hybrid_method",
                            help="kcenter (default): score shortlist, then k-center; cluster: "
                                 "k-means clusters, best-scored frame of each.")
        parser.add_argument("--warm-start", choices=WARM_STARTS, dest="warm_start",
                            help="Where each round's training starts: the previous round's "
                                 "model (default), the round-0 model (equal training for every "
                                 "round), or the initial weights.")
        parser.add_argument("--weights", help='JSON acquisition weights, e.g. {"tta": 2}.')
        parser.add_argument("--init-from", dest="init_from",
                            help="Start every seed's round-0 model (with --warm-start none: "
                                 "every round) from this model, transferred onto the data's "
                                 "body parts by name: an engine checkpoint (.pt), a zoo bundle "
                                 "(.zip) or a zoo entry id.")
        parser.add_argument("--temporal-weight", type=float, dest="temporal_weight",
                            help="Add the temporal-consistency loss on unlabeled consecutive "
                                 "frames to every training, at this weight (default 0: off).")
        parser.add_argument("--temporal-video", dest="temporal_video",
                            help="Video the unlabeled frame pairs come from (default: the "
                                 "project's videos/ folder's first video).")
        parser.add_argument("--temporal-pool", type=int, dest="temporal_pool",
                            help="Pairs of consecutive frames read from it (default 256).")
        multi = parser.add_argument_group("SLEAP .slp data (multi-animal)")
        multi.add_argument("--video-dir", dest="video_dir",
                           help="Folder holding the .slp file's movie (found by file name when "
                                "the stored path is another machine's).")
        multi.add_argument("--frame-cache", dest="frame_cache",
                           help="Folder the movie's frames are decoded into once as PNG and "
                                "reused by later runs (default: --out/frames).")
        multi.add_argument("--test-frames", type=int, dest="n_test",
                           help="Held-out test frames (with the expected number of animals), "
                                "spread evenly over the video's end part; no pool frame lies "
                                "within --guard frames of one.")
        multi.add_argument("--test-part", type=float, dest="test_part",
                           help="Share of the video, at its end, the test frames spread over "
                                "(default 0.4).")
        multi.add_argument("--guard", type=int,
                           help="Frames on each side of a test frame kept out of the pool "
                                "(default 2).")
        multi.add_argument("--max-candidates", type=int, dest="max_candidates",
                           help="Active strategy: unlabeled frames predicted and scored per "
                                "round, spread in time (the preset's; 0 = all).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["from_partial"]:
            summarise = (oracle_multi.summarize_partial
                         if oracle_multi.is_multi_partial(options["out"]) else summarize_partial)
            try:
                summary = summarise(options["out"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"summarised seeds {summary['complete_seeds']} from "
                              f"{options['out']}/results.partial.jsonl; plot {summary['plot']}")
            self.stdout.write(json.dumps(_result(summary)))
            return
        if not options["project_dir"]:
            raise CommandError("project_dir is required (unless --from-partial)")
        if options["project_dir"].lower().endswith(".slp"):
            summary = _replay_multi(options, self.stdout.write)
            self.stdout.write(json.dumps({**_result(summary), **{
                k: summary[k] for k in ("expected_animals", "n_pool", "n_test")}}))
            return
        values: dict[str, Any] = dict(PRESETS[options["preset"]])
        for key in ("seeds", "first_seed", "initial", "batch", "rounds", "minutes_per_round",
                    "steps_per_round",
                    "initial_steps", "test_fraction",
                    "input_scale", "head_channels", "backbone", "threads", "hybrid_method",
                    "warm_start", "image_scale", "device", "temporal_weight", "temporal_video",
                    "temporal_pool"):
            if options.get(key) is not None:
                values[key] = options[key]
        if options.get("minutes_per_round") is not None and options.get("steps_per_round") is None:
            values["steps_per_round"] = None  # an explicit time budget replaces the preset's steps
        values["strategies"] = _strategies(options["strategies"]
                                           or ",".join(SINGLE_VIEW_STRATEGIES))
        if options.get("weights"):
            values["weights"] = json.loads(options["weights"])
        with tempfile.TemporaryDirectory(prefix="poseloop-init-") as tmp:
            try:
                if options.get("init_from"):
                    values["init_from"] = _init_checkpoint(options["init_from"], tmp)
                cfg = ReplayConfig(**values)
                summary = replay(options["project_dir"], cfg, Path(options["out"]),
                                 log=lambda line: self.stdout.write(line))
            except (ValueError, FormatError) as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(_result(summary)))


def _strategies(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


# Options of the other replays that a .slp replay refuses rather than ignores.
NOT_FOR_SLP = ("image_scale", "initial_steps", "test_fraction", "input_scale", "hybrid_method",
               "warm_start", "init_from", "temporal_weight", "temporal_video", "temporal_pool")


def _replay_multi(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """The multi-animal replay of a .slp file (`oracle_multi`) with the command's options."""
    given = [f"--{k.replace('_', '-')}" for k in NOT_FOR_SLP if options.get(k) is not None]
    if given:
        raise CommandError(f"{', '.join(given)}: not used by a .slp replay")
    values: dict[str, Any] = dict(oracle_multi.MULTI_PRESETS[options["preset"]])
    for key in ("seeds", "first_seed", "initial", "batch", "rounds", "minutes_per_round",
                "steps_per_round", "head_channels", "backbone", "threads", "device", "n_test",
                "test_part", "guard", "max_candidates"):
        if options.get(key) is not None:
            values[key] = options[key]
    if options.get("minutes_per_round") is not None and options.get("steps_per_round") is None:
        values["steps_per_round"] = None  # an explicit time budget replaces the preset's steps
    if values.get("max_candidates") == 0:
        values["max_candidates"] = None
    if options.get("strategies"):
        values["strategies"] = _strategies(options["strategies"])
    if options.get("weights"):
        values["weights"] = json.loads(options["weights"])
    try:
        cfg = oracle_multi.MultiReplayConfig(**values)
        return oracle_multi.replay_multi(options["project_dir"], cfg, Path(options["out"]),
                                         video_dir=options.get("video_dir"),
                                         frame_cache=options.get("frame_cache"), log=log)
    except (ValueError, FormatError) as exc:
        raise CommandError(str(exc)) from exc


def _init_checkpoint(value: str, tmp: str) -> str:
    """--init-from as a checkpoint path: a zoo entry id (digits), a bundle or a checkpoint."""
    if value.isdigit():
        try:
            from learning.zoo.entries import zoo_checkpoint_path
        except ImportError as exc:
            raise CommandError("--init-from ID: the zoo is not available") from exc
        try:
            value = zoo_checkpoint_path(int(value))
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
    return checkpoint_file(value, tmp)


def _result(summary: dict[str, Any]) -> dict[str, Any]:
    """The last printed line: per strategy final RMSE, labels to random's final, curve."""
    out = {"strategies": {name: {k: v for k, v in s.items() if k != "spread"}
                          for name, s in summary["strategies"].items()},
           "dataset": summary["dataset"], "seeds": summary["seeds"]}
    if summary.get("init_from"):
        out["init_from"], out["transfer"] = summary["init_from"], summary.get("transfer")
    return out

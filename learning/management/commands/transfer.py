"""Issue 19: train a transfer source model; compare scratch and transfer oracle replays."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.formats.errors import FormatError
from learning.selection.transfer_report import compare, train_source


class Command(BaseCommand):
    help = ("Transfer experiments: `source` trains an engine checkpoint on every label of a "
            "DeepLabCut project; `compare` plots a scratch and a transfer replay_oracle run "
            "of one dataset. Last line JSON.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        src = sub.add_parser("source", help="Train on all labels, save a .pt checkpoint.")
        src.add_argument("project_dir", help="DeepLabCut project folder (config.yaml).")
        src.add_argument("--out", required=True, help="Checkpoint file to write (.pt).")
        src.add_argument("--steps", type=int, required=True)
        src.add_argument("--input-scale", type=float, dest="input_scale", required=True)
        src.add_argument("--backbone", default="resnet18")
        src.add_argument("--head-channels", type=int, dest="head_channels", default=64)
        src.add_argument("--seed", type=int, default=0)
        src.add_argument("--threads", type=int)
        cmp = sub.add_parser("compare", help="Plot scratch vs transfer replays of one dataset.")
        cmp.add_argument("scratch_dir", help="replay_oracle --out folder, no --init-from.")
        cmp.add_argument("transfer_dir", help="replay_oracle --out folder with --init-from.")
        cmp.add_argument("--plot", required=True, help="PNG file to write.")
        cmp.add_argument("--title", default="")
        cmp.add_argument("--strategy", default="random")
        cmp.add_argument("--names", default="from scratch,transfer",
                         help="The two arms' names in the plot, comma-separated.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            if opts["action"] == "source":
                result = train_source(opts["project_dir"], opts["out"], steps=opts["steps"],
                                      input_scale=opts["input_scale"],
                                      backbone=opts["backbone"],
                                      head_channels=opts["head_channels"], seed=opts["seed"],
                                      threads=opts["threads"])
            else:
                names = [n.strip() for n in opts["names"].split(",")]
                if len(names) != 2 or not all(names):
                    raise ValueError("--names: two names, comma-separated")
                result = compare(opts["scratch_dir"], opts["transfer_dir"], opts["plot"],
                                 title=opts["title"], strategy=opts["strategy"],
                                 names=(names[0], names[1]))
        except (ValueError, FormatError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result))

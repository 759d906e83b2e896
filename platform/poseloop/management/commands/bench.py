"""`python manage.py bench <name> …`: benchmarks that print figures, last line one JSON object.

Each benchmark lives next to the code it measures, as a module with
`add_arguments(parser)` and `run(options, stdout) -> dict`; this command only dispatches.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser

BENCHMARKS = {
    "queue": "annotation.bench_queue",
    "load": "annotation.bench_load",
    "train": "learning.training.bench_train",
    "distill": "learning.training.bench_distill",
    "infer": "learning.analysis.bench_infer",
    "score": "learning.selection.bench_score",
    "views3d": "learning.selection.bench_views3d",
    "loop": "poseloop.bench_loop",
    "fanout": "learning.analysis.bench_fanout",
    "multi": "learning.training.bench_multi",
}


class Command(BaseCommand):
    help = "Run a benchmark; prints progress, then one JSON object as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="benchmark", required=True)
        for name, module_path in BENCHMARKS.items():
            try:
                module = importlib.import_module(module_path)
            except ModuleNotFoundError as exc:
                if exc.name != module_path:  # a real error inside an existing benchmark
                    raise
                continue
            summary = (module.__doc__ or "").strip().split("\n\n")[0]  # argparse %-formats help
            module.add_arguments(sub.add_parser(name, help=summary.replace("%", "%%")))

    def handle(self, *args: Any, **options: Any) -> None:
        module = importlib.import_module(BENCHMARKS[options["benchmark"]])
        try:
            result = module.run(options, self.stdout)
        except (ValueError, ObjectDoesNotExist) as exc:  # bad options or names: a clear message
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, default=float))

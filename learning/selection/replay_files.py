"""The files every oracle replay writes and reads back (2D, multi-animal, transfer): the
per-round results CSV, the partial results of an interrupted run, and its summary."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]


def seeds_label(n: int) -> str:
    return "1 seed" if n == 1 else f"{n} seeds, mean ± sd"


def write_rows_csv(rows: Sequence[dict[str, Any]], out_dir: Path) -> Path:
    """results.csv in `out_dir` (created): one row per seed, strategy and round."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (imported when a plot is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def complete_seeds(rows: Rows) -> Rows:
    """The rows of the seeds whose every strategy reached the last round any row reached
    (an interrupted run's unfinished seed would bias the means toward the early rounds)."""
    last = max((int(r["round"]) for r in rows), default=0)
    strategies = {r["strategy"] for r in rows}
    done = {(r["seed"], r["strategy"]) for r in rows if int(r["round"]) == last}
    seeds = {seed for seed in {r["seed"] for r in rows}
             if all((seed, s) in done for s in strategies)}
    return [r for r in rows if r["seed"] in seeds]


def summarize_partial(
    out_dir: str | Path,
    summarize: Callable[[Rows, Sequence[str]], dict[str, Any]],
    write_outputs: Callable[[Rows, dict[str, Any], Path, str], tuple[Path, Path]],
    title: Callable[[str, int], str],
) -> dict[str, Any]:
    """Summarise an interrupted run from `out_dir`/results.partial.jsonl (complete seeds
    only) with the replay's own `summarize` and `write_outputs`, and write summary.json
    beside it; ValueError when there is no file or no complete seed yet."""
    out = Path(out_dir)
    path = out / "results.partial.jsonl"
    if not path.is_file():
        raise ValueError(f"no {path}: nothing to summarise")
    rows = complete_seeds([json.loads(line) for line in path.read_text().splitlines() if line])
    if not rows:
        raise ValueError(f"{path} holds no complete seed yet")
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    summary: dict[str, Any] = {"strategies": summarize(rows, strategies),
                               "dataset": rows[0]["dataset"], "seeds": len(seeds),
                               "complete_seeds": seeds, "from_partial": True}
    csv_path, png_path = write_outputs(rows, summary, out, title(rows[0]["dataset"],
                                                                 len(seeds)))
    summary["csv"], summary["plot"] = str(csv_path), str(png_path)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

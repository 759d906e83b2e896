"""Read-only numbers about frame selection: why frames were queued and whether it paid off.

Selected-vs-baseline errors need the selecting model's prediction of each frame. They are read
from the queue entry when scoring stored it (`QueueEntry.components["keypoints"]`: one
`[x, y, likelihood]` per body part, in the project's body-part order, original pixels), and
compared with the consensus of the frame's submitted/accepted labels. An oracle replay (a
simulation that labels frames from ground truth under each strategy) may leave its results in
media at `projects/<id>/oracle/results.csv`; it is shown as it is.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from typing import Any, TypedDict

from django.core.files.storage import default_storage
from django.db.models import Avg, Count

from annotation.agreement import consensus_keypoints
from annotation.models import EntryStatus, QueueEntry, QueueReason
from projects.models import Project

# Reasons where the model's own scores chose the frame; the others are the baseline
# (frames picked for coverage or by hand, i.e. not by how badly the model does on them).
MODEL_REASONS = (QueueReason.UNCERTAINTY, QueueReason.TEMPORAL, QueueReason.SKELETON)
BASELINE_REASONS = (QueueReason.DIVERSITY, QueueReason.MANUAL)
PREDICTION_KEY = "keypoints"
ORACLE_PATH = "projects/{project_id}/oracle/results.csv"
ORACLE_MAX_ROWS = 1000
MAX_CELL = 80  # characters of a text cell kept (the replay's `picked` lists are long)
X_NAMES = ("n_labels", "labels", "n_labeled", "n_frames", "round", "iteration")
GROUP_NAMES = ("strategy", "method", "selection")
NOT_YET_NOTE = ("Not available yet: no labeled frame carries the prediction of the model that "
                "queued it. Once such frames are labeled, this compares the model's error on "
                "the frames it chose with its error on baseline (diversity, manual) frames.")


class ReasonRow(TypedDict):
    reason: str
    label: str
    total: int
    labeled: int
    skipped: int
    flagged: int
    waiting: int
    mean_priority: float | None
    components: dict[str, float]


class ErrorGroup(TypedDict):
    reason: str
    model_selected: bool
    n_frames: int
    mean_px: float | None
    median_px: float | None


class SelectedVsBaseline(TypedDict):
    available: bool
    note: str
    groups: list[ErrorGroup]
    model_selected_mean_px: float | None
    baseline_mean_px: float | None


class OracleSeries(TypedDict):
    name: str
    x: list[float]
    y: list[float]


class Oracle(TypedDict):
    available: bool
    path: str
    columns: list[str]
    rows: list[list[Any]]
    x: str | None
    y: str | None
    series: list[OracleSeries]


class ActiveLearning(TypedDict):
    strategy: str
    strategy_label: str
    batch_size: int
    weights: dict[str, float]
    reasons: list[ReasonRow]
    strategies: dict[str, int]
    selected_vs_baseline: SelectedVsBaseline
    oracle: Oracle


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def reasons(project: Project) -> list[ReasonRow]:
    """Every queue entry ever made, per reason: what became of it and its mean scores."""
    entries = QueueEntry.objects.filter(project=project)
    status = {(r, s): n for r, s, n in entries.values_list("reason", "status")
              .annotate(n=Count("id")).order_by()}
    priority = dict(entries.values_list("reason").annotate(p=Avg("priority")).order_by())
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ns: dict[str, Counter[str]] = defaultdict(Counter)
    for reason, components in entries.values_list("reason", "components"):
        for name, value in (components or {}).items():
            number = _number(value)
            if number is not None:
                sums[reason][name] += number
                ns[reason][name] += 1
    rows: list[ReasonRow] = []
    for reason in QueueReason:
        counts = {s: status.get((reason.value, s), 0) for s in EntryStatus}
        total = sum(counts.values())
        if not total:
            continue
        rows.append({
            "reason": reason.value, "label": str(reason.label), "total": total,
            "labeled": counts[EntryStatus.DONE], "skipped": counts[EntryStatus.SKIPPED],
            "flagged": counts[EntryStatus.FLAGGED],
            "waiting": counts[EntryStatus.OPEN] + counts[EntryStatus.LEASED],
            "mean_priority": _number(priority.get(reason.value)),
            "components": {name: round(sums[reason.value][name] / n, 4)
                           for name, n in sorted(ns[reason.value].items())},
        })
    return rows


def strategies(project: Project) -> dict[str, int]:
    """Entries per `components["strategy"]`, where selection recorded one."""
    counts: Counter[str] = Counter()
    for components in QueueEntry.objects.filter(project=project).values_list("components",
                                                                             flat=True):
        name = (components or {}).get("strategy")
        if isinstance(name, str) and name:
            counts[name] += 1
    return dict(sorted(counts.items()))


def _prediction_error(prediction: Any, truth: Any) -> float | None:
    """Mean px distance over body parts both placed; prediction (K, 3), truth (K, 2) NaN-padded."""
    if not isinstance(prediction, list) or len(prediction) != len(truth):
        return None
    dists = []
    for pred, (tx, ty) in zip(prediction, truth, strict=True):
        if not isinstance(pred, list | tuple) or len(pred) < 2:
            continue
        px, py = _number(pred[0]), _number(pred[1])
        if px is None or py is None or math.isnan(tx) or math.isnan(ty):
            continue
        dists.append(math.hypot(px - tx, py - ty))
    return sum(dists) / len(dists) if dists else None


def selected_vs_baseline(project: Project) -> SelectedVsBaseline:
    """The selecting model's error on frames it chose vs on baseline frames, once labeled."""
    entries = list(QueueEntry.objects.filter(project=project, status=EntryStatus.DONE,
                                             model_version_id__isnull=False)
                   .values_list("frame_id", "reason", "components"))
    with_pred = [(f, r, c[PREDICTION_KEY]) for f, r, c in entries
                 if isinstance(c, dict) and PREDICTION_KEY in c]
    errors: dict[str, list[float]] = defaultdict(list)
    if with_pred:
        frame_ids, truth, _ = consensus_keypoints(project, [f for f, _, _ in with_pred])
        row = {f: i for i, f in enumerate(frame_ids)}
        for frame_id, reason, prediction in with_pred:
            if frame_id in row:
                err = _prediction_error(prediction, truth[row[frame_id]].tolist())
                if err is not None:
                    errors[reason].append(err)
    if not errors:
        return {"available": False, "groups": [], "model_selected_mean_px": None,
                "baseline_mean_px": None,
                "note": NOT_YET_NOTE}
    groups: list[ErrorGroup] = [
        {"reason": r.value, "model_selected": r in MODEL_REASONS, "n_frames": len(errors[r]),
         "mean_px": statistics.fmean(errors[r]), "median_px": statistics.median(errors[r])}
        for r in QueueReason if errors.get(r.value)]

    def pooled(chosen: tuple[QueueReason, ...]) -> float | None:
        values = [e for r in chosen for e in errors.get(r.value, [])]
        return statistics.fmean(values) if values else None

    return {"available": True, "groups": groups, "model_selected_mean_px": pooled(MODEL_REASONS),
            "baseline_mean_px": pooled(BASELINE_REASONS),
            "note": ("Error of the model that queued each frame, measured against the labels "
                     "it then received. Model-chosen frames should be harder than baseline "
                     "(diversity / manual) frames.")}


def _parse(text: str) -> tuple[list[str], list[list[Any]]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    rows: list[list[Any]] = []
    for raw in reader:
        if not raw:
            continue
        cells: list[Any] = []
        for cell in raw[:len(header)]:
            try:
                number = float(cell)
                cells.append(number if math.isfinite(number) else None)
            except ValueError:
                text = cell.strip()
                cells.append(text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…")
        rows.append(cells + [None] * (len(header) - len(cells)))
        if len(rows) >= ORACLE_MAX_ROWS:
            break
    return header, rows


def _oracle_series(header: list[str], rows: list[list[Any]]
                   ) -> tuple[str | None, str | None, list[OracleSeries]]:
    lower = [h.lower() for h in header]
    numeric = [i for i in range(len(header))
               if rows and all(isinstance(r[i], float) or r[i] is None for r in rows)]
    x = next((lower.index(n) for n in X_NAMES if n in lower), numeric[0] if numeric else None)
    y = next((i for i in numeric if i != x and ("rmse" in lower[i] or "error" in lower[i])),
             next((i for i in numeric if i != x), None))
    group = next((lower.index(n) for n in GROUP_NAMES if n in lower), None)
    if x is None or y is None:
        return None, None, []
    points: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if isinstance(r[x], float) and isinstance(r[y], float):
            name = str(r[group]) if group is not None else header[y]
            points[name][r[x]].append(r[y])
    # Several rows per (series, x), e.g. one per seed, are averaged.
    series: list[OracleSeries] = [
        {"name": name, "x": sorted(by_x), "y": [statistics.fmean(by_x[v]) for v in sorted(by_x)]}
        for name, by_x in points.items()]
    return header[x], header[y], series


def oracle(project: Project) -> Oracle:
    """The oracle-replay results table, if one was written for the project.

    Written by `manage.py replay_oracle` (learning/oracle.py) when pointed at this folder:
    one row per dataset, strategy, seed and round; the plot averages seeds per label count.
    """
    path = ORACLE_PATH.format(project_id=project.pk)
    empty: Oracle = {"available": False, "path": path, "columns": [], "rows": [], "x": None,
                     "y": None, "series": []}
    if not default_storage.exists(path):
        return empty
    with default_storage.open(path, "rb") as fh:
        text = fh.read().decode("utf-8-sig", errors="replace")
    header, rows = _parse(text)
    if not header:
        return empty
    x, y, series = _oracle_series(header, rows)
    return {"available": True, "path": path, "columns": header, "rows": rows, "x": x, "y": y,
            "series": series}


def active_learning(project: Project) -> ActiveLearning:
    """Everything the active-learning panel of the dashboard shows."""
    weights = {k: float(v) for k, v in (project.acquisition_weights or {}).items()
               if _number(v) is not None}
    return {
        "strategy": project.selection_strategy,
        "strategy_label": project.get_selection_strategy_display(),
        "batch_size": project.selection_batch_size,
        "weights": weights,
        "reasons": reasons(project),
        "strategies": strategies(project),
        "selected_vs_baseline": selected_vs_baseline(project),
        "oracle": oracle(project),
    }

"""Read-only numbers about frame selection: why frames were queued and whether it paid off.

Selected-vs-baseline errors need the selecting model's prediction of each frame. They are read
from the queue entry when scoring stored it (`QueueEntry.components["keypoints"]`: one
`[x, y, likelihood]` per body part, in the project's body-part order, original pixels), and
compared with the consensus of the frame's submitted/accepted labels. The baseline is that
model's error on its own test split (`ModelVersion.metrics["test_rmse_px"]`). An oracle replay (a
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
from learning.models import ModelVersion
from projects.models import Project

# Reasons where the model's own scores chose the frame; the others are the baseline
# (frames picked for coverage or by hand, i.e. not by how badly the model does on them).
MODEL_REASONS = (QueueReason.UNCERTAINTY, QueueReason.TEMPORAL, QueueReason.SKELETON,
                 QueueReason.VIEWS_3D)
BASELINE_REASONS = (QueueReason.DIVERSITY, QueueReason.MANUAL)
PREDICTION_KEY = "keypoints"
ORACLE_PATH = "projects/{project_id}/oracle/results.csv"
ORACLE_MAX_ROWS = 1000
MAX_CELL = 80  # characters of a text cell kept (the replay's `picked` lists are long)
X_NAMES = ("n_labels", "labels", "n_labeled", "n_frames", "round", "iteration")
GROUP_NAMES = ("strategy", "method", "selection")
# Chosen frames this much harder (or easier) than test frames count as a clear difference.
RATIO_HARDER = 1.2
NOT_YET_NOTE = ("Not available yet: no labeled frame carries the prediction of the model that "
                "queued it. Once frames chosen by a model are labeled, this compares the "
                "model's error on the frames it chose with its error on its own test frames.")


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
    """Frames queued for one reason: mean_px over their labeled points, median_px over frames."""

    reason: str
    model_selected: bool
    n_frames: int
    mean_px: float | None
    median_px: float | None


class ModelErrorRow(TypedDict):
    """One selecting model version: its error on the frames it chose vs on its test split."""

    version_id: int
    iteration: int | None
    n_frames: int
    chosen_mean_px: float
    test_rmse_px: float | None
    ratio: float | None


class SelectedVsBaseline(TypedDict):
    """`ratio` = chosen_mean_px / test_mean_px, both over the same labeled points; None
    where no selecting model has a test error."""

    available: bool
    note: str
    n_frames: int
    chosen_mean_px: float | None
    test_mean_px: float | None
    ratio: float | None
    groups: list[ErrorGroup]
    models: list[ModelErrorRow]
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


def _point_errors(prediction: Any, truth: list[list[float]]) -> list[float]:
    """Px distances over body parts both predicted and placed by the label (visible or
    occluded, as the test error counts them); prediction (K, 3), truth (K, 2) NaN-padded."""
    if not isinstance(prediction, list) or len(prediction) != len(truth):
        return []
    dists = []
    for pred, (tx, ty) in zip(prediction, truth, strict=True):
        if not isinstance(pred, list | tuple) or len(pred) < 2:
            continue
        px, py = _number(pred[0]), _number(pred[1])
        if px is None or py is None or math.isnan(tx) or math.isnan(ty):
            continue
        dists.append(math.hypot(px - tx, py - ty))
    return dists


def _chosen_frame_errors(project: Project) -> list[tuple[str, int, list[float]]]:
    """(reason, selecting version id, point errors) per frame that carries the prediction of
    the model that queued it and now has a counted label; the newest such entry per frame."""
    entries = (QueueEntry.objects.filter(project=project, model_version_id__isnull=False)
               .order_by("id").values_list("frame_id", "reason", "model_version_id",
                                            "components"))
    latest = {frame: (reason, version, comps[PREDICTION_KEY])
              for frame, reason, version, comps in entries
              if isinstance(comps, dict) and isinstance(comps.get(PREDICTION_KEY), list)}
    if not latest:
        return []
    frame_ids, truth, _ = consensus_keypoints(project, list(latest))
    out = []
    for frame_id, points in zip(frame_ids, truth.tolist(), strict=True):
        reason, version, prediction = latest[frame_id]
        dists = _point_errors(prediction, points)
        if dists:
            out.append((reason, version, dists))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def selected_vs_baseline(project: Project) -> SelectedVsBaseline:
    """The selecting model's error on the frames it chose, once labeled, vs its test error.

    Errors are means over labeled points (as `test_rmse_px` is). The baseline of each frame is
    the test error of the model version that chose it, so the ratio compares like with like
    across rounds: chosen-frame error summed over points / test error summed over the same
    points. Per reason groups also show diversity/manual frames where they carry a prediction.
    """
    frames = _chosen_frame_errors(project)
    empty: SelectedVsBaseline = {
        "available": False, "note": NOT_YET_NOTE, "groups": [], "models": [], "n_frames": 0,
        "chosen_mean_px": None, "test_mean_px": None, "ratio": None,
        "model_selected_mean_px": None, "baseline_mean_px": None}
    if not frames:
        return empty
    by_reason: dict[str, list[float]] = defaultdict(list)
    points_of: dict[str, list[float]] = defaultdict(list)
    by_version: dict[int, list[list[float]]] = defaultdict(list)
    for reason, version, dists in frames:
        by_reason[reason].append(statistics.fmean(dists))
        points_of[reason].extend(dists)
        by_version[version].append(dists)
    groups: list[ErrorGroup] = [
        {"reason": r.value, "model_selected": r in MODEL_REASONS,
         "n_frames": len(by_reason[r.value]), "mean_px": statistics.fmean(points_of[r.value]),
         "median_px": statistics.median(by_reason[r.value])}
        for r in QueueReason if by_reason.get(r.value)]
    versions = {pk: (iteration, metrics) for pk, iteration, metrics in ModelVersion.objects
                .filter(pk__in=list(by_version)).values_list("pk", "iteration", "metrics")}
    models: list[ModelErrorRow] = []
    chosen_sum = test_sum = 0.0
    n_points = n_compared = 0
    for pk, per_frame in by_version.items():
        iteration, metrics = versions.get(pk, (None, {}))
        dists = [d for frame in per_frame for d in frame]
        test = _number((metrics or {}).get("test_rmse_px"))
        if test is not None:
            chosen_sum += sum(dists)
            test_sum += test * len(dists)
            n_points += len(dists)
            n_compared += len(per_frame)
        chosen = statistics.fmean(dists)
        models.append({"version_id": pk, "iteration": iteration, "n_frames": len(per_frame),
                       "chosen_mean_px": chosen, "test_rmse_px": test,
                       "ratio": _ratio(chosen, test)})
    models.sort(key=lambda m: (m["iteration"] or 0, m["version_id"]))

    def pooled(chosen: tuple[QueueReason, ...]) -> float | None:
        values = [d for r in chosen for d in points_of.get(r.value, [])]
        return statistics.fmean(values) if values else None

    chosen_px = chosen_sum / n_points if n_points else None
    test_px = test_sum / n_points if n_points else None
    ratio = _ratio(chosen_px, test_px)
    return {"available": True, "groups": groups, "models": models, "n_frames": len(frames),
            "chosen_mean_px": chosen_px, "test_mean_px": test_px, "ratio": ratio,
            "model_selected_mean_px": pooled(MODEL_REASONS),
            "baseline_mean_px": pooled(BASELINE_REASONS),
            "note": _note(n_compared or len(frames), chosen_px, test_px, ratio)}


def _note(n_frames: int, chosen_px: float | None, test_px: float | None,
          ratio: float | None) -> str:
    """The panel's sentence for a PI."""
    frames = f"{n_frames} labeled frame{'s' if n_frames != 1 else ''}"
    if ratio is None or chosen_px is None or test_px is None:
        return (f"The models' error on the {frames} they chose, by how they chose them. No "
                "test error is recorded for those models yet, so there is no baseline to "
                "compare with.")
    if ratio >= RATIO_HARDER:
        verdict = "active learning is picking frames the model gets wrong, as it should"
    elif ratio <= 1 / RATIO_HARDER:
        verdict = ("the chosen frames were easier than its test frames: selection is not "
                   "finding the model's mistakes (check the strategy and its weights)")
    else:
        verdict = ("the chosen frames were about as hard as its test frames: selection is not "
                   "yet finding the model's mistakes")
    return (f"The frames the model chose were {ratio:.1f}× as hard as its test frames: "
            f"{chosen_px:.1f} px mean error on the {frames} it chose (its prediction when it "
            f"queued them vs the labels they then received) against {test_px:.1f} px on its "
            f"own test split, so {verdict}.")


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

    Written by `manage.py replay_oracle` (learning/selection/oracle.py) when pointed at this folder:
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

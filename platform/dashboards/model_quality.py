"""Read-only numbers about the models: learning curve, its slope, body-part errors, test frames.

Everything here reads `ModelVersion.metrics` (see `learning.models.VersionMetrics`) and the
annotators' agreement records; nothing is computed from images or networks. One optional
metrics key is read when the evaluation stores it:

    metrics["per_frame_test"] = [{"frame_id": int, "rmse_px": float | None,
                                  "likelihoods": [float | None, ...],   # one per body part
                                  "image": int | None}, ...]            # index in eval_images

It gives the likelihood histogram and the worst-first test frames; without it the dashboard
says so and shows the stored evaluation images unranked.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, TypedDict

from django.db.models import Avg, Count
from django.urls import reverse

from annotation.models import AgreementRecord
from learning.models import CurrentModel, ModelVersion, VersionStatus
from projects.models import Project

SLOPE_WINDOW = 3  # versions the trend is fitted over
FLAT_PX_PER_10 = 0.05  # |slope| below this (px per 10 labels) counts as flat
LIKELIHOOD_BINS = 20
WORST_FRAMES = 6
PER_FRAME_KEY = "per_frame_test"


class CurvePoint(TypedDict):
    version_id: int
    iteration: int
    created_at: datetime
    n_labels: int | None
    n_frames: int
    n_train: int | None
    n_test: int | None
    test_rmse_px: float | None
    test_rmse_pcutoff_px: float | None
    train_rmse_px: float | None
    pck: dict[str, float | None]
    is_current: bool


class Agreement(TypedDict):
    """Mean distance between two annotators' points on double-labeled frames."""

    mean_px: float | None
    n_frames: int


class Trend(TypedDict):
    slope_px_per_10_labels: float | None
    n_versions: int
    next_batch_labels: int
    next_batch_gain_px: float | None
    hint: str


class BodyPartError(TypedDict):
    name: str
    test_rmse_px: float | None
    train_rmse_px: float | None
    agreement_px: float | None


class Likelihoods(TypedDict):
    available: bool
    needed: str
    bin_edges: list[float]
    counts: list[int]
    pcutoff: float | None
    n_points: int


class EvalFrame(TypedDict):
    frame_id: int | None
    rmse_px: float | None
    image_url: str | None


class EvalFrames(TypedDict):
    ranked: bool
    note: str
    frames: list[EvalFrame]


class ModelQuality(TypedDict):
    curve: list[CurvePoint]
    agreement: Agreement
    trend: Trend
    current_version_id: int | None
    current_iteration: int | None
    bodyparts: list[BodyPartError]
    likelihoods: Likelihoods
    test_frames: EvalFrames


def finite(value: Any) -> float | None:
    """A float, or None for missing, non-numeric, NaN and infinite values (JSON has no NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def n_labels(version: ModelVersion) -> int | None:
    """Label rows the version trained on (its metrics, else its label snapshot)."""
    metrics = version.metrics or {}
    if isinstance(metrics.get("n_labels"), int):
        return metrics["n_labels"]
    labels = (version.label_snapshot or {}).get("labels")
    return len(labels) if isinstance(labels, list) else None


def learning_curve(project: Project, current_id: int | None) -> list[CurvePoint]:
    """One point per ready model version, by iteration."""
    versions = ModelVersion.objects.filter(project=project, status=VersionStatus.READY)
    points: list[CurvePoint] = []
    for v in versions.order_by("iteration"):
        m = v.metrics or {}
        pck = m.get("test_pck") if isinstance(m.get("test_pck"), dict) else {}
        points.append({
            "version_id": v.pk, "iteration": v.iteration, "created_at": v.created_at,
            "n_labels": n_labels(v), "n_frames": v.n_labeled_frames,
            "n_train": m.get("n_train"), "n_test": m.get("n_test"),
            "test_rmse_px": finite(m.get("test_rmse_px")),
            "test_rmse_pcutoff_px": finite(m.get("test_rmse_pcutoff_px")),
            "train_rmse_px": finite(m.get("train_rmse_px")),
            "pck": {str(k): finite(val) for k, val in pck.items()},
            "is_current": v.pk == current_id,
        })
    return points


def human_agreement(project: Project) -> Agreement:
    """Mean of the per-frame, per-body-part distances between annotators."""
    row = AgreementRecord.objects.filter(project=project).aggregate(
        mean=Avg("mean_distance_px"), frames=Count("frame_id", distinct=True))
    return {"mean_px": finite(row["mean"]), "n_frames": row["frames"] or 0}


def slope_per_10_labels(points: list[CurvePoint], window: int = SLOPE_WINDOW
                        ) -> tuple[float | None, int]:
    """Least-squares slope of test RMSE against labels over the last `window` usable versions.

    Returns (px per 10 labels, versions used); None with fewer than two distinct label counts.
    """
    usable = [(p["n_labels"], p["test_rmse_px"]) for p in points
              if p["n_labels"] is not None and p["test_rmse_px"] is not None][-window:]
    if len({n for n, _ in usable}) < 2:
        return None, len(usable)
    xs = [float(n) for n, _ in usable]
    ys = [e for _, e in usable]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
             / sum((x - mx) ** 2 for x in xs))
    return slope * 10.0, len(usable)


def trend_hint(slope: float | None, n_versions: int, latest_px: float | None,
               agreement_px: float | None) -> str:
    """The learning curve's slope in plain words."""
    if slope is None:
        return ("Not enough models yet: the trend needs two ready versions trained on "
                "different numbers of labels.")
    if abs(slope) < FLAT_PX_PER_10:
        text = (f"Flat for the last {n_versions} versions: more labels like these barely "
                "change the test error.")
    elif slope < 0:
        text = f"Error still falling ~{-slope:.1f} px per 10 labels: more labels should help."
    else:
        text = (f"Error rising ~{slope:.1f} px per 10 labels over the last {n_versions} "
                "versions: check the newest labels (the test split also grew).")
    if latest_px is not None and agreement_px is not None and latest_px <= agreement_px:
        text += " The model is already within the annotators' own disagreement."
    return text


def trend(points: list[CurvePoint], agreement: Agreement, batch: int) -> Trend:
    """Slope, expected gain from the next batch of `batch` labels, and the hint."""
    slope, used = slope_per_10_labels(points)
    latest = next((p["test_rmse_px"] for p in reversed(points)
                   if p["test_rmse_px"] is not None), None)
    gain = None if slope is None else max(0.0, -slope) * batch / 10.0
    return {
        "slope_px_per_10_labels": None if slope is None else round(slope, 4),
        "n_versions": used,
        "next_batch_labels": batch,
        "next_batch_gain_px": None if gain is None else round(gain, 3),
        "hint": trend_hint(slope, used, latest, agreement["mean_px"]),
    }


def bodypart_errors(project: Project, version: ModelVersion | None) -> list[BodyPartError]:
    """The version's per-body-part test/train errors beside the annotators' agreement."""
    m = (version.metrics or {}) if version else {}
    test = m.get("per_bodypart_test_rmse_px") or {}
    train = m.get("per_bodypart_train_rmse_px") or {}
    agree = dict(AgreementRecord.objects.filter(project=project)
                 .values("bodypart__name").annotate(mean=Avg("mean_distance_px"))
                 .values_list("bodypart__name", "mean"))
    return [{"name": name, "test_rmse_px": finite(test.get(name)),
             "train_rmse_px": finite(train.get(name)), "agreement_px": finite(agree.get(name))}
            for name in project.bodyparts.order_by("order", "id").values_list("name", flat=True)]


def _per_frame(version: ModelVersion | None) -> list[dict[str, Any]] | None:
    rows = (version.metrics or {}).get(PER_FRAME_KEY) if version else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else None


def likelihood_histogram(version: ModelVersion | None) -> Likelihoods:
    """Histogram (0..1) of the version's test-frame likelihoods, if the evaluation stored them."""
    edges = [i / LIKELIHOOD_BINS for i in range(LIKELIHOOD_BINS + 1)]
    rows = _per_frame(version)
    values = [v for r in rows or [] for v in (finite(x) for x in r.get("likelihoods") or [])
              if v is not None]
    if version is None or not values:
        needed = ("No current model yet." if version is None else
                  f"The evaluation of model {version.iteration} stored no per-frame predictions: "
                  f"the histogram needs metrics['{PER_FRAME_KEY}'] with each test frame's "
                  "per-body-part likelihoods (written by the learning app's evaluation).")
        return {"available": False, "needed": needed, "bin_edges": edges, "counts": [],
                "pcutoff": None, "n_points": 0}
    counts = [0] * LIKELIHOOD_BINS
    for v in values:
        counts[min(LIKELIHOOD_BINS - 1, max(0, int(v * LIKELIHOOD_BINS)))] += 1
    return {"available": True, "needed": "", "bin_edges": edges, "counts": counts,
            "pcutoff": finite((version.metrics or {}).get("pcutoff")), "n_points": len(values)}


def _image_url(version: ModelVersion, index: Any) -> str | None:
    if not isinstance(index, int) or not 0 <= index < len(version.eval_images or []):
        return None
    return reverse("api:model-image", kwargs={"project_id": version.project_id,
                                               "version_id": version.pk, "n": index})


def worst_test_frames(version: ModelVersion | None, limit: int = WORST_FRAMES) -> EvalFrames:
    """The version's worst test frames with links to their evaluation images, if ranked."""
    if version is None:
        return {"ranked": False, "note": "No current model yet.", "frames": []}
    rows = _per_frame(version)
    if rows:
        ranked = sorted((r for r in rows if finite(r.get("rmse_px")) is not None),
                        key=lambda r: -float(r["rmse_px"]))[:limit]
        return {"ranked": True, "note": "", "frames": [
            {"frame_id": r.get("frame_id"), "rmse_px": finite(r.get("rmse_px")),
             "image_url": _image_url(version, r.get("image"))} for r in ranked]}
    return {
        "ranked": False,
        "note": ("Per-frame test errors were not stored, so these are the first test frames, "
                 f"not the worst (ranking needs metrics['{PER_FRAME_KEY}'])."),
        "frames": [{"frame_id": None, "rmse_px": None, "image_url": _image_url(version, i)}
                   for i in range(min(limit, len(version.eval_images or [])))],
    }


def model_quality(project: Project) -> ModelQuality:
    """Everything the model panels of the dashboard show."""
    pointer = CurrentModel.objects.select_related("version").filter(project=project).first()
    current = pointer.version if pointer else None
    points = learning_curve(project, current.pk if current else None)
    agreement = human_agreement(project)
    return {
        "curve": points,
        "agreement": agreement,
        "trend": trend(points, agreement, project.selection_batch_size),
        "current_version_id": current.pk if current else None,
        "current_iteration": current.iteration if current else None,
        "bodyparts": bodypart_errors(project, current),
        "likelihoods": likelihood_histogram(current),
        "test_frames": worst_test_frames(current),
    }

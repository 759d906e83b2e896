"""Learning curve, its slope and hint, body-part errors, likelihoods and test frames."""

from __future__ import annotations

import pytest

from annotation.models import AgreementRecord
from dashboards.model_quality import (
    finite,
    human_agreement,
    learning_curve,
    likelihood_histogram,
    model_quality,
    slope_per_10_labels,
    worst_test_frames,
)
from learning.models import VersionStatus
from tests.annotation.factories import FrameFactory
from tests.dashboards.factories import version

pytestmark = pytest.mark.django_db


def three_versions(project, errors=(10.0, 9.6, 9.2), labels=(10, 20, 30)):
    return [version(project, n_labels=n, test_rmse=e, current=i == len(errors) - 1)
            for i, (n, e) in enumerate(zip(labels, errors, strict=True))]


def test_falling_curve_gives_slope_gain_and_hint(project):
    project.selection_batch_size = 20
    project.save()
    three_versions(project)
    trend = model_quality(project)["trend"]
    assert trend["slope_px_per_10_labels"] == pytest.approx(-0.4)
    assert trend["n_versions"] == 3
    assert trend["next_batch_gain_px"] == pytest.approx(0.8)
    assert "still falling ~0.4 px per 10 labels" in trend["hint"]


def test_flat_curve_says_flat(project):
    three_versions(project, errors=(5.0, 5.01, 4.99))
    trend = model_quality(project)["trend"]
    assert abs(trend["slope_px_per_10_labels"]) < 0.05
    assert trend["hint"].startswith("Flat for the last 3 versions")
    assert trend["next_batch_gain_px"] == pytest.approx(0.005 * 2, abs=1e-3)


def test_rising_curve_says_rising(project):
    three_versions(project, errors=(4.0, 5.0, 6.0))
    assert "rising ~1.0 px per 10 labels" in model_quality(project)["trend"]["hint"]


def test_slope_uses_only_the_last_three_usable_versions(project):
    three_versions(project, errors=(30.0, 9.6, 9.2, 8.8), labels=(5, 20, 30, 40))
    version(project, n_labels=50, test_rmse=None)  # no test error: skipped
    slope, used = slope_per_10_labels(learning_curve(project, None))
    assert used == 3
    assert slope == pytest.approx(-0.4)


def test_one_version_is_not_a_trend(project):
    version(project, n_labels=10, test_rmse=7.0, current=True)
    trend = model_quality(project)["trend"]
    assert trend["slope_px_per_10_labels"] is None
    assert trend["hint"].startswith("Not enough models yet")


def test_hint_says_when_the_model_reaches_human_agreement(project):
    three_versions(project, errors=(3.0, 2.6, 2.2))
    frame = FrameFactory(project=project)
    AgreementRecord.objects.create(project=project, frame=frame,
                                   bodypart=project.bodyparts.first(), mean_distance_px=2.5,
                                   n_pairs=1)
    assert "within the annotators' own disagreement" in model_quality(project)["trend"]["hint"]


def test_curve_has_ready_versions_in_order_with_pck_and_current(project):
    version(project, n_labels=10, test_rmse=8.0, test_pck={"2": 0.1, "5": 0.5, "10": 0.9})
    version(project, status=VersionStatus.FAILED)
    last = version(project, n_labels=25, test_rmse=6.0, train_rmse_px=2.0, current=True)
    points = model_quality(project)["curve"]
    assert [(p["iteration"], p["n_labels"], p["test_rmse_px"]) for p in points] == [
        (1, 10, 8.0), (3, 25, 6.0)]
    assert points[0]["pck"] == {"2": 0.1, "5": 0.5, "10": 0.9}
    assert [p["is_current"] for p in points] == [False, True]
    assert points[1]["version_id"] == last.pk and points[1]["train_rmse_px"] == 2.0


def test_labels_fall_back_to_the_snapshot(project):
    v = version(project, n_labels=7, test_rmse=3.0)
    v.metrics.pop("n_labels")
    v.save()
    assert learning_curve(project, None)[0]["n_labels"] == 7


def test_human_agreement_is_the_mean_over_double_labeled_frames(project):
    a, b = FrameFactory.create_batch(2, project=project)
    parts = list(project.bodyparts.order_by("order"))
    for frame, part, px in [(a, parts[0], 2.0), (a, parts[1], 4.0), (b, parts[0], 6.0)]:
        AgreementRecord.objects.create(project=project, frame=frame, bodypart=part,
                                       mean_distance_px=px, n_pairs=1)
    assert human_agreement(project) == {"mean_px": pytest.approx(4.0), "n_frames": 2}


def test_bodypart_errors_follow_the_skeleton_order(project):
    version(project, n_labels=10, test_rmse=5.0, current=True,
            per_bodypart_test_rmse_px={"snout": 3.0, "tailbase": 9.0, "leftear": 4.0,
                                       "rightear": None},
            per_bodypart_train_rmse_px={"snout": 1.0})
    frame = FrameFactory(project=project)
    AgreementRecord.objects.create(project=project, frame=frame,
                                   bodypart=project.bodyparts.get(name="snout"),
                                   mean_distance_px=1.5, n_pairs=1)
    rows = model_quality(project)["bodyparts"]
    assert [(r["name"], r["test_rmse_px"]) for r in rows] == [
        ("snout", 3.0), ("leftear", 4.0), ("rightear", None), ("tailbase", 9.0)]
    assert rows[0]["train_rmse_px"] == 1.0 and rows[0]["agreement_px"] == 1.5
    assert rows[1]["agreement_px"] is None


def test_likelihoods_say_what_is_needed_without_per_frame_predictions(project):
    v = version(project, n_labels=10, test_rmse=5.0, current=True)
    result = likelihood_histogram(v)
    assert not result["available"]
    assert "per_frame_test" in result["needed"]


def test_likelihood_histogram_counts_test_predictions(project):
    v = version(project, n_labels=10, test_rmse=5.0, pcutoff=0.6, per_frame_test=[
        {"frame_id": 1, "rmse_px": 2.0, "likelihoods": [0.01, 0.97, 1.0, None]},
        {"frame_id": 2, "rmse_px": 3.0, "likelihoods": [0.52, 0.53]},
    ])
    result = likelihood_histogram(v)
    assert result["available"] and result["n_points"] == 5 and result["pcutoff"] == 0.6
    assert len(result["counts"]) == 20 and sum(result["counts"]) == 5
    assert result["counts"][0] == 1 and result["counts"][10] == 2 and result["counts"][19] == 2


def test_worst_test_frames_are_ranked_and_link_their_images(project):
    v = version(project, n_labels=10, test_rmse=5.0, per_frame_test=[
        {"frame_id": 11, "rmse_px": 2.0, "image": 0},
        {"frame_id": 12, "rmse_px": 9.0, "image": 1},
        {"frame_id": 13, "rmse_px": 5.0, "image": 7},
    ])
    v.eval_images = ["a.png", "b.png"]
    v.save()
    result = worst_test_frames(v)
    assert result["ranked"]
    assert [f["frame_id"] for f in result["frames"]] == [12, 13, 11]
    assert result["frames"][0]["image_url"] == \
        f"/api/projects/{project.pk}/models/{v.pk}/images/1/"
    assert result["frames"][1]["image_url"] is None  # no such stored image


def test_unranked_test_frames_fall_back_to_the_stored_images(project):
    v = version(project, n_labels=10, test_rmse=5.0)
    v.eval_images = ["a.png", "b.png"]
    v.save()
    result = worst_test_frames(v)
    assert not result["ranked"] and "not the worst" in result["note"]
    assert [f["image_url"] for f in result["frames"]] == [
        f"/api/projects/{project.pk}/models/{v.pk}/images/{n}/" for n in (0, 1)]


@pytest.mark.parametrize("value, expected", [
    (1, 1.0), (2.5, 2.5), (float("nan"), None), (float("inf"), None), (None, None),
    ("3", None), (True, None)])
def test_finite(value, expected):
    assert finite(value) == expected

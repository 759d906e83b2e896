"""How frames were chosen, the selecting model's error on them, and oracle-replay results."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation.models import EntryStatus, QueueReason
from dashboards.active_learning import active_learning, oracle, selected_vs_baseline
from tests.annotation.factories import FrameFactory, LabelFactory, QueueEntryFactory, points_for
from tests.dashboards.factories import version

pytestmark = pytest.mark.django_db


def entry(project, reason, status=EntryStatus.OPEN, **kw):
    return QueueEntryFactory(frame=FrameFactory(project=project), reason=reason, status=status,
                             **kw)


def labeled_entry(project, reason, model, prediction_xy, label_xy=(10.0, 20.0)):
    """A done entry whose selecting model predicted every body part at `prediction_xy`."""
    keypoints = [[*prediction_xy, 0.5] for _ in project.bodypart_names()]
    queued = entry(project, reason, EntryStatus.DONE, model_version_id=model.pk,
                   components={"uncertainty": 0.5, "keypoints": keypoints})
    LabelFactory(project=project, frame=queued.frame, points=points_for(project, label_xy))
    return queued


def test_reasons_count_outcomes_and_mean_scores(project):
    entry(project, QueueReason.UNCERTAINTY, components={"uncertainty": 0.2, "strategy": "hybrid"},
          priority=1.0)
    entry(project, QueueReason.UNCERTAINTY, EntryStatus.DONE,
          components={"uncertainty": 0.6, "diversity": 1.0, "keypoints": [[1.0, 2.0, .5]]},
          priority=3.0)
    entry(project, QueueReason.MANUAL, EntryStatus.SKIPPED)
    result = active_learning(project)
    rows = {r["reason"]: r for r in result["reasons"]}
    assert set(rows) == {"uncertainty", "manual"}
    assert (rows["uncertainty"]["total"], rows["uncertainty"]["labeled"],
            rows["uncertainty"]["waiting"]) == (2, 1, 1)
    assert rows["uncertainty"]["mean_priority"] == 2.0
    # The predicted keypoints (a list) are no score to average.
    assert rows["uncertainty"]["components"] == {"diversity": 1.0, "uncertainty": 0.4}
    assert rows["manual"]["skipped"] == 1
    assert result["strategies"] == {"hybrid": 1}
    assert result["strategy"] == project.selection_strategy


def test_selected_frames_error_vs_the_models_test_error(project):
    model = version(project, n_labels=10, test_rmse=2.0)
    labeled_entry(project, QueueReason.UNCERTAINTY, model, (13.0, 24.0))  # 5 px off
    labeled_entry(project, QueueReason.UNCERTAINTY, model, (10.0, 27.0))  # 7 px off
    labeled_entry(project, QueueReason.DIVERSITY, model, (10.0, 23.0))  # 3 px off
    result = selected_vs_baseline(project)
    assert result["available"] and result["n_frames"] == 3
    groups = {g["reason"]: g for g in result["groups"]}
    assert groups["uncertainty"]["mean_px"] == pytest.approx(6.0)
    assert groups["uncertainty"]["n_frames"] == 2 and groups["uncertainty"]["model_selected"]
    assert not groups["diversity"]["model_selected"]
    assert result["chosen_mean_px"] == pytest.approx(5.0)
    assert result["test_mean_px"] == pytest.approx(2.0)
    assert result["ratio"] == pytest.approx(2.5)
    assert result["model_selected_mean_px"] == pytest.approx(6.0)
    assert result["baseline_mean_px"] == pytest.approx(3.0)
    assert result["note"].startswith("The frames the model chose were 2.5× as hard as its test")
    assert "picking frames the model gets wrong" in result["note"]


def test_each_frame_is_compared_with_the_model_that_chose_it(project):
    first = version(project, n_labels=10, test_rmse=8.0)
    second = version(project, n_labels=20, test_rmse=2.0)
    labeled_entry(project, QueueReason.UNCERTAINTY, first, (14.0, 20.0))  # 4 px vs 8 px
    labeled_entry(project, QueueReason.UNCERTAINTY, second, (10.0, 26.0))  # 6 px vs 2 px
    labeled_entry(project, QueueReason.UNCERTAINTY, second, (10.0, 26.0))
    result = selected_vs_baseline(project)
    assert [(m["iteration"], m["n_frames"], m["chosen_mean_px"], m["ratio"])
            for m in result["models"]] == [(first.iteration, 1, 4.0, 0.5),
                                           (second.iteration, 2, 6.0, 3.0)]
    # Same points on both sides: (4 + 6 + 6) / (8 + 2 + 2).
    assert result["ratio"] == pytest.approx(16 / 12)
    assert result["test_mean_px"] == pytest.approx(4.0)


def test_only_placed_points_of_counted_labels_count(project):
    model = version(project, n_labels=10, test_rmse=1.0)
    parts = project.bodypart_names()
    chosen = entry(project, QueueReason.TEMPORAL, EntryStatus.DONE, model_version_id=model.pk,
                   components={"temporal": 0.3, "strategy": "hybrid",
                               "keypoints": [[13.0, 24.0, 0.9]] + [None] * (len(parts) - 1)})
    LabelFactory(project=project, frame=chosen.frame, points=points_for(project, (10.0, 20.0)))
    unlabeled = entry(project, QueueReason.UNCERTAINTY, EntryStatus.OPEN,
                      model_version_id=model.pk,
                      components={"keypoints": [[0.0, 0.0, 0.1]] * len(parts)})
    LabelFactory(project=project, frame=unlabeled.frame, status="draft")
    result = selected_vs_baseline(project)
    assert result["n_frames"] == 1 and result["chosen_mean_px"] == pytest.approx(5.0)
    assert result["ratio"] == pytest.approx(5.0)


def test_without_a_test_error_there_is_no_ratio(project):
    model = version(project, n_labels=10)
    labeled_entry(project, QueueReason.UNCERTAINTY, model, (13.0, 24.0))
    result = selected_vs_baseline(project)
    assert result["available"] and result["ratio"] is None and result["test_mean_px"] is None
    assert result["models"][0]["chosen_mean_px"] == pytest.approx(5.0)
    assert "no baseline" in result["note"]


def test_selected_vs_baseline_says_what_is_needed(project):
    model = version(project, n_labels=10, test_rmse=5.0)
    queued = entry(project, QueueReason.UNCERTAINTY, EntryStatus.DONE, model_version_id=model.pk,
                   components={"uncertainty": 0.9})
    LabelFactory(project=project, frame=queued.frame)
    result = selected_vs_baseline(project)
    assert not result["available"]
    assert result["note"].startswith("Not available yet: no labeled frame carries the prediction")
    # A sentence for people, not a code path (it used to print QueueEntry.components[...]).
    assert "components" not in result["note"] and "[" not in result["note"]


def test_oracle_results_are_read_per_strategy(project):
    csv = ("strategy,n_labels,test_rmse_px\n"
           "random,10,9.0\nrandom,20,7.5\nuncertainty,10,8.0\nuncertainty,20,6.0\n")
    default_storage.save(f"projects/{project.pk}/oracle/results.csv", ContentFile(csv.encode()))
    result = oracle(project)
    assert result["available"] and result["columns"] == ["strategy", "n_labels", "test_rmse_px"]
    assert (result["x"], result["y"]) == ("n_labels", "test_rmse_px")
    assert result["series"] == [
        {"name": "random", "x": [10.0, 20.0], "y": [9.0, 7.5]},
        {"name": "uncertainty", "x": [10.0, 20.0], "y": [8.0, 6.0]}]
    assert result["rows"][0] == ["random", 10.0, 9.0]


def test_no_oracle_results(project):
    result = oracle(project)
    assert not result["available"]
    assert result["path"] == f"projects/{project.pk}/oracle/results.csv"


def test_oracle_replay_seeds_are_averaged(project):
    csv = ("dataset,strategy,seed,round,n_labels,test_rmse_px,picked\n"
           "mice,random,0,0,10,9.0,a.png;b.png\nmice,random,1,0,10,7.0,c.png\n"
           "mice,random,0,1,20,6.0,d.png\nmice,random,1,1,20,5.0,e.png\n")
    default_storage.save(f"projects/{project.pk}/oracle/results.csv", ContentFile(csv.encode()))
    result = oracle(project)
    assert (result["x"], result["y"]) == ("n_labels", "test_rmse_px")
    assert result["series"] == [{"name": "random", "x": [10.0, 20.0], "y": [8.0, 5.5]}]

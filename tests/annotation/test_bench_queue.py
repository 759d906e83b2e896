"""The queue benchmark: annotators spread over forked processes, checks reconciled after."""

from __future__ import annotations

import io

import pytest

from annotation import bench_queue
from annotation.models import Label
from projects.models import Project


@pytest.mark.slow
def test_two_processes_of_annotators_label_without_double_leases(transactional_db):
    options = {"annotators": 4, "seconds": 3.0, "frames": 0, "think_ms": 20.0,
               "double_fraction": 0.0, "processes": 2}
    out = io.StringIO()
    result = bench_queue.run(options, out)
    assert result["processes"] == 2 and result["annotators"] == 4
    assert result["errors"] == 0 and result["double_leases"] == 0 and result["lost_labels"] == 0
    # Both processes' annotators submitted: each saved label came back to the parent.
    assert result["labels_submitted"] >= 8
    # Every annotator's first cycle is an untimed warm-up; the rest are timed.
    assert result["requests"] >= 2 * (result["labels_submitted"] - 4)
    assert result["p95_ms"] is not None and result["p95_ms"] > 0
    # The throwaway project is gone afterwards.
    assert not Project.objects.filter(name__startswith="bench-queue-").exists()
    assert not Label.objects.exists()

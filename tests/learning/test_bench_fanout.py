"""`bench fanout`: its argument handling and the pure parts (the timed run needs Redis)."""

from __future__ import annotations

import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from learning.analysis import bench_fanout


def test_worker_counts_and_sizes_are_parsed_strictly():
    assert bench_fanout.parse_workers("2,1,2") == [1, 2]
    assert bench_fanout.parse_size("320x240") == (320, 240)
    for bad in ("", "0,1", "one"):
        with pytest.raises(ValueError):
            bench_fanout.parse_workers(bad)
    with pytest.raises(ValueError):
        bench_fanout.parse_size("320")


def test_bad_workers_option_is_a_command_error():
    with pytest.raises(CommandError, match="--workers"):
        call_command("bench", "fanout", "--workers", "0")


def test_workers_are_single_threaded_inference_workers_with_platform_on_the_path(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://db/x")
    command = bench_fanout.worker_command("w1@%h")
    assert command[command.index("-Q") + 1] == "inference"
    assert command[command.index("-c") + 1] == "1"
    assert command[command.index("--pool") + 1] == "prefork"
    env = bench_fanout.worker_env("redis://h:6379/12", "redis://h:6379/13")
    assert env["OMP_NUM_THREADS"] == "1" and env["CELERY_TASK_ALWAYS_EAGER"] == "0"
    assert env["CELERY_RESULT_BACKEND"] == "redis://h:6379/13"
    assert env["DATABASE_URL"] == "postgres://db/x"  # the workers see this database
    assert any(p.endswith("platform") for p in env["PYTHONPATH"].split(os.pathsep))


def test_summary_speedup_is_against_the_fewest_workers():
    result = bench_fanout.summarize(2000, {1: 100.0, 2: 50.0})
    assert result["fps_by_workers"] == {"1": 20.0, "2": 40.0}
    assert result["speedup_by_workers"] == {"1": 1.0, "2": 2.0}


def test_chunks_are_counted_from_the_worker_log():
    log = ("[INFO] Task learning.tasks.analyze_chunk_task[ab] succeeded in 3.1s: 'p'\n"
           "[INFO] Task learning.tasks.analyze_video_task[cd] succeeded in 0.1s\n"
           "[INFO] Task learning.tasks.analyze_chunk_task[ef] received\n")
    assert bench_fanout.count_chunks(log) == 1

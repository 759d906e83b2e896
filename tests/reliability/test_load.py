"""(k) A reduced load test over real HTTP, and (l) a web worker killed mid-save.

Both run gunicorn (annotation/bench_load.py) on loopback against the test database and
reconcile the client's acknowledgements with the rows afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.db import connection

from annotation.bench_load import (
    create_fixture,
    delete_fixture,
    frames_needed,
    reconcile,
    run_load,
    start_gunicorn,
)


@pytest.fixture
def server(transactional_db):
    connection.close()
    server = start_gunicorn(workers=2, threads=4)
    yield server
    server.stop()


@pytest.mark.slow
def test_ten_annotators_for_ten_seconds(server):
    fixture = create_fixture(10, frames_needed(10, 10, 100))
    try:
        rec, figures = run_load(server.url, fixture, seconds=10, think_ms=100)
        checks = reconcile(fixture, rec)
    finally:
        delete_fixture(fixture)
    assert figures["errors"] == 0, rec.errors[:5]
    assert checks["labels_acknowledged"] > 0
    assert checks["double_leases"] == 0
    assert checks["lost_labels"] == 0
    assert checks["duplicated_labels"] == 0


@pytest.mark.slow
def test_killing_a_web_worker_loses_no_acknowledged_label(server):
    """SIGKILL one gunicorn worker while annotators submit: requests it held fail (and are
    retried once with the same request id), the master starts a new worker, and every label
    a client was told was saved is in the database, once."""
    fixture = create_fixture(6, frames_needed(6, 8, 50))
    killed: list[int] = []

    def kill_one() -> None:
        time.sleep(3)
        pids = server.worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        rec, _ = run_load(server.url, fixture, seconds=8, think_ms=50)
        killer.join(timeout=10)
        checks = reconcile(fixture, rec)
    finally:
        delete_fixture(fixture)
    assert killed, "no gunicorn worker found to kill"
    assert checks["labels_acknowledged"] > 0
    assert checks["lost_labels"] == 0
    assert checks["duplicated_labels"] == 0
    assert checks["double_leases"] == 0

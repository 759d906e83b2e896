"""Queue benchmark: simulated annotators lease and submit frames through the real API.

Each annotator is a thread with its own API client (views, serializers, middleware and the
database included): POST queue/next/, pause, PUT frames/<id>/label/ with submit, pause.
The annotators are spread over `--processes` forked processes (default 8, about six
annotators each), as a server spreads requests over its worker processes. Threads of one
process share one GIL, and here each process also runs its annotators' client side: a thread
back from a database round trip waits for the GIL while another thread runs Python, so few
fat processes measure that harness effect rather than the server (50 annotators in 2
processes: p95 ~56 ms, in 8: ~45 ms, same requests). The default pause between two requests
of one annotator, 2 s, is a fast human: placing four or five points and submitting takes
several seconds, with a lease, an autosave or two and a submit per frame; `--think-ms 200` is
a stress test at ten times that pace. Annotators arrive spread over one cycle and their
first cycle (connection set-up) is not timed. A throwaway project is created on the configured
database and deleted afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import random
import threading
import time
import uuid
from argparse import ArgumentParser
from collections import defaultdict
from typing import Any

import numpy as np
from django.db import connection, connections
from rest_framework.test import APIClient

from annotation.bench_load import create_fixture, delete_fixture, frames_needed
from annotation.models import Label, LabelStatus, QueueEntry
from projects.models import Project


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=0, help="0: enough for the whole run")
    parser.add_argument("--think-ms", type=float, default=2000.0,
                        help="mean pause of an annotator between two requests (0: none)")
    parser.add_argument("--double-fraction", type=float, default=0.0,
                        help="share of frames that need two labels")
    parser.add_argument("--processes", type=int, default=8,
                        help="processes the annotator threads are spread over")


class Recorder:
    """Latencies and outcomes, shared by the annotator threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.leased_by: dict[int, set[int]] = defaultdict(set)
        self.saved: list[tuple[int, int, int]] = []  # frame, user, version
        self.errors: list[str] = []

    def timed(self, kind: str, call: Any) -> Any:
        start = time.perf_counter()
        response = call()
        with self.lock:
            self.latencies[kind].append((time.perf_counter() - start) * 1000)
        return response

    def export(self) -> dict[str, Any]:
        """Picklable contents, to send from a child process."""
        with self.lock:
            return {"latencies": dict(self.latencies), "saved": self.saved,
                    "errors": self.errors,
                    "leased_by": {k: sorted(v) for k, v in self.leased_by.items()}}

    def merge(self, data: dict[str, Any]) -> None:
        with self.lock:
            for kind, values in data["latencies"].items():
                self.latencies[kind].extend(values)
            for frame_id, users in data["leased_by"].items():
                self.leased_by[frame_id].update(users)
            self.saved.extend(data["saved"])
            self.errors.extend(data["errors"])

    def all_ms(self) -> list[float]:
        with self.lock:
            return [ms for values in self.latencies.values() for ms in values]


def _annotate(project: Project, user: Any, parts: list[int], options: dict[str, Any],
              deadline: float, rec: Recorder) -> None:
    client = APIClient(HTTP_HOST="localhost")  # a host ALLOWED_HOSTS accepts by default
    client.force_authenticate(user)
    base = f"/api/projects/{project.pk}/"
    rng = random.Random(user.pk)

    def pause() -> None:
        if options["think_ms"] > 0:
            time.sleep(options["think_ms"] / 1000 * rng.uniform(0.5, 1.5))

    # Annotators arrive spread over one lease/save cycle, not all in the same millisecond; their
    # first cycle (opening the database connection) is a warm-up and is not timed.
    time.sleep(2 * options["think_ms"] / 1000 * rng.random())
    warm = Recorder()
    try:
        while time.monotonic() < deadline:
            timer = warm if not warm.latencies["save"] else rec
            response = timer.timed("lease", lambda: client.post(base + "queue/next/"))
            if response.status_code == 204:
                return
            if response.status_code != 200:
                rec.errors.append(f"lease {response.status_code}")
                pause()
                continue
            data = response.json()
            frame_id = data["frame"]["id"]
            with rec.lock:
                rec.leased_by[frame_id].add(user.pk)
            version = data["label"]["version"] if data["label"] else 0
            pause()
            points = [{"bodypart": pk, "x": rng.uniform(0, 640), "y": rng.uniform(0, 480),
                       "state": "visible"} for pk in parts]
            body = {"points": points, "version": version, "seconds_spent": 1.0,
                    "source": "human", "request_id": str(uuid.uuid4()),
                    "entry": data["entry"]["id"], "submit": True}
            response = timer.timed("save", lambda body=body, frame_id=frame_id: client.put(
                f"{base}frames/{frame_id}/label/", body, format="json"))
            if response.status_code == 200:
                with rec.lock:
                    rec.saved.append((frame_id, user.pk, response.json()["label"]["version"]))
            else:
                rec.errors.append(f"save {response.status_code}")
            pause()
    except Exception as exc:  # noqa: BLE001 - a benchmark reports errors, it does not stop
        rec.errors.append(repr(exc))
    finally:
        connections.close_all()


def _child(project: Project, users: list, parts: list[int], options: dict[str, Any],
           deadline: float, results: Any) -> None:
    """One forked process: its share of the annotators as threads; sends what it recorded."""
    rec = Recorder()
    threads = [threading.Thread(target=_annotate, args=(project, u, parts, options, deadline,
                                                        rec), daemon=True) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(rec.export())


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _verify(project: Project, rec: Recorder) -> tuple[int, int]:
    """(double leases, lost labels): more annotators on a frame than it needs, and submitted
    saves the database no longer holds."""
    required = dict(QueueEntry.objects.filter(project=project)
                    .values_list("frame_id", "labels_required"))
    double = sum(max(0, len(users) - required.get(fid, 1)) for fid, users in
                 rec.leased_by.items())
    stored = {(f, u): v for f, u, v in Label.objects.filter(
        project=project, status=LabelStatus.SUBMITTED).values_list(
        "frame_id", "annotator_id", "version")}
    lost = sum(1 for f, u, v in rec.saved if stored.get((f, u), 0) < v)
    return double, lost


def run(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    """Run the benchmark; returns latency percentiles (ms), counts and checks."""
    tag = uuid.uuid4().hex[:8]
    n_frames = options["frames"] or frames_needed(options["annotators"], options["seconds"],
                                                  options["think_ms"])
    fixture = create_fixture(options["annotators"], n_frames, tag, prefix="bench-queue",
                             double_fraction=options["double_fraction"])
    project, users, parts = fixture.project, fixture.users, fixture.parts
    stdout.write(f"bench queue: {len(users)} annotators, {project.frames.count()} frames, "
                 f"{options['seconds']}s on {connection.vendor}")
    rec = Recorder()
    try:
        deadline = time.monotonic() + options["seconds"]
        processes = max(1, min(options["processes"], len(users)))
        connections.close_all()  # children must not share the parent's connection
        ctx = mp.get_context("fork")
        results: Any = ctx.Queue()
        children = [ctx.Process(target=_child, args=(project, users[i::processes], parts,
                                                     options, deadline, results))
                    for i in range(processes)]
        for child in children:
            child.start()
        pending = len(children)
        while pending:
            try:
                rec.merge(results.get(timeout=5))
                pending -= 1
            except queue.Empty:
                stdout.write(f"  running: {max(0.0, deadline - time.monotonic()):.0f}s left")
        for child in children:
            child.join()
        double, lost = _verify(project, rec)
        if rec.errors:
            stdout.write(f"  first errors: {rec.errors[:5]}")
        values = rec.all_ms()
        return {
            "p50_ms": _percentile(values, 50), "p95_ms": _percentile(values, 95),
            "p95_lease_ms": _percentile(rec.latencies["lease"], 95),
            "p95_save_ms": _percentile(rec.latencies["save"], 95),
            "requests": len(values), "labels_submitted": len(rec.saved),
            "double_leases": double, "lost_labels": lost, "errors": len(rec.errors),
            "annotators": len(users), "seconds": options["seconds"],
            "think_ms": options["think_ms"], "processes": processes,
            "database": connection.vendor,
        }
    finally:
        delete_fixture(fixture)

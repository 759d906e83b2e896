"""Load benchmark over real HTTP: N simulated annotators against gunicorn, then a reconciliation.

`python manage.py bench load --annotators 50 --seconds 60 [--url URL]`

Starts gunicorn on a free loopback port with this process's settings and database (or uses
`--url`, a server that must use the SAME database: the setup and the reconciliation go through
the ORM). Creates a throwaway project, annotators with API tokens and queued frames; each
annotator is a thread with its own `requests.Session` that leases (POST queue/next/), pauses,
submits (PUT frames/<id>/label/, retried once with the same request id on a network error) and
pauses. Afterwards every acknowledged save is checked against the database: double leases,
lost labels, duplicated labels. Everything it created is deleted at the end.
"""

from __future__ import annotations

import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from argparse import ArgumentParser
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from accounts.models import Membership, Role
from annotation.models import Label, LabelRevision, LabelStatus, QueueEntry
from annotation.queue import enqueue_frames
from projects.models import Project
from projects.skeleton import set_skeleton
from videos.models import Frame, FrameOrigin

ROOT = Path(__file__).resolve().parent.parent
BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
REQUEST_TIMEOUT_S = 30.0


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--url", default="", help="a running server on the same database "
                        "(default: start gunicorn on loopback)")
    parser.add_argument("--think-ms", type=float, default=200.0,
                        help="mean pause of an annotator between two requests (0: none)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")


# --- the server -----------------------------------------------------------------------------

def database_url() -> str:
    """DATABASE_URL of this process's default database (the test database inside pytest)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A gunicorn started by this module; `stop()` ends it (its whole process group)."""

    process: subprocess.Popen
    url: str
    log: Path

    def worker_pids(self) -> list[int]:
        """Pids of the gunicorn worker processes (children of the master)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
                             capture_output=True, text=True, check=False).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_gunicorn(workers: int = 2, threads: int = 8, timeout_s: float = 90.0) -> Server:
    """Start gunicorn on 127.0.0.1 with this process's database; wait until /healthz answers."""
    port = free_port()
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        "DATABASE_URL": database_url(),
        "POSELOOP_VAR_DIR": str(settings.VAR_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "0",
        "POSELOOP_HTTPS": "0",
    })
    env.pop("DATABASE_TEST_NAME", None)
    log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "poseloop.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), "--worker-class", "gthread", "--timeout", "120",
             "--graceful-timeout", "10", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer within {timeout_s}s: {log.read_text()[-2000:]}")


# --- the throwaway project ------------------------------------------------------------------

@dataclass
class Fixture:
    project: Project
    users: list[Any]
    tokens: dict[int, str]
    parts: list[int]


def create_fixture(annotators: int, n_frames: int, tag: str | None = None, *,
                   prefix: str = "bench-load", double_fraction: float = 0.0) -> Fixture:
    """A project with a 4-part skeleton, annotators with tokens, and `n_frames` queued frames."""
    tag = tag or uuid.uuid4().hex[:8]
    project = Project.objects.create(name=f"{prefix}-{tag}", lease_minutes=10,
                                     retrain_after_labels=0,
                                     double_label_fraction=double_fraction)
    set_skeleton(project, {"bodyparts": [{"name": n} for n in BODYPARTS]})
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"{prefix}-{tag}-{i}", password="!") for i in range(annotators))
    Membership.objects.bulk_create(
        Membership(user=u, project=project, role=Role.ANNOTATOR) for u in users)
    tokens = {t.user_id: t.key for t in Token.objects.bulk_create(
        Token(user=u, key=Token.generate_key()) for u in users)}
    frames = Frame.objects.bulk_create(
        Frame(project=project, image=f"bench/{i}.png", width=640, height=480,
              origin=FrameOrigin.IMPORTED, external_path=f"bench/{tag}/{i:06d}.png")
        for i in range(n_frames))
    ids = [f.pk for f in frames]
    rng = random.Random(0)
    enqueue_frames(project.pk, ids, reason="diversity", priorities=[rng.random() for _ in ids])
    parts = list(project.bodyparts.order_by("order").values_list("pk", flat=True))
    return Fixture(project, users, tokens, parts)


def delete_fixture(fixture: Fixture) -> None:
    """Remove the project (cascading to frames, queue, labels) and the users."""
    Project.objects.filter(pk=fixture.project.pk).delete()
    get_user_model().objects.filter(pk__in=[u.pk for u in fixture.users]).delete()


def frames_needed(annotators: int, seconds: float, think_ms: float) -> int:
    cycle_s = 2 * think_ms / 1000 + 0.02
    return min(200_000, int(annotators * math.ceil(seconds / cycle_s) * 1.5) + 100)


# --- the annotators -------------------------------------------------------------------------

@dataclass
class Ack:
    frame: int
    user: int
    version: int
    request_id: str


@dataclass
class Recorder:
    """Latencies and outcomes, shared by the annotator threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)
    leases: list[tuple[int, int]] = field(default_factory=list)  # frame, user
    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def call(self, session: requests.Session, method: str, url: str, **kw: Any
             ) -> requests.Response | None:
        start = time.perf_counter()
        try:
            response = session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kw)
        except requests.RequestException as exc:
            with self.lock:
                self.errors.append(f"{method} {url.rsplit('/api/', 1)[-1]}: {type(exc).__name__}")
            return None
        with self.lock:
            self.latencies_ms.append((time.perf_counter() - start) * 1000)
        return response

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def annotate(base_url: str, fixture: Fixture, user: Any, deadline: float, think_ms: float,
             rec: Recorder, stop: threading.Event | None = None) -> None:
    """One annotator: lease, pause, submit, pause, until the deadline or an empty queue."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {fixture.tokens[user.pk]}"
    base = f"{base_url}/api/projects/{fixture.project.pk}/"
    rng = random.Random(user.pk)

    def pause() -> None:
        if think_ms > 0:
            time.sleep(think_ms / 1000 * rng.uniform(0.5, 1.5))

    while time.monotonic() < deadline and not (stop and stop.is_set()):
        response = rec.call(session, "POST", base + "queue/next/")
        if response is None:
            pause()
            continue
        if response.status_code == 204:
            return
        if response.status_code != 200:
            rec.error(f"lease {response.status_code}")
            pause()
            continue
        data = response.json()
        frame_id = data["frame"]["id"]
        with rec.lock:
            rec.leases.append((frame_id, user.pk))
        pause()
        request_id = str(uuid.uuid4())
        body = {"points": [{"bodypart": pk, "x": rng.uniform(0, 639), "y": rng.uniform(0, 479),
                            "state": "visible"} for pk in fixture.parts],
                "version": data["label"]["version"] if data["label"] else 0,
                "seconds_spent": 1.0, "source": "human", "request_id": request_id,
                "entry": data["entry"]["id"], "submit": True}
        for _attempt in range(2):  # a network error is retried once: the request id dedupes
            response = rec.call(session, "PUT", f"{base}frames/{frame_id}/label/", json=body)
            if response is not None:
                break
        if response is not None and response.status_code == 200:
            with rec.lock:
                rec.acks.append(Ack(frame_id, user.pk, response.json()["label"]["version"],
                                    request_id))
        elif response is not None:
            rec.error(f"save {response.status_code}")
        pause()
    session.close()


# --- reconciliation -------------------------------------------------------------------------

def reconcile(fixture: Fixture, rec: Recorder) -> dict[str, int]:
    """Compare the client's view with the database.

    double_leases: a frame leased to more users than it needs labels (leases outlive the run).
    lost_labels: acknowledged submits whose label is missing, older, or lacks the revision.
    duplicated_labels: extra labels per (frame, annotator), extra submitted labels per frame,
    revisions applied twice for one request id, and acknowledgements repeated for one request.
    """
    required = dict(QueueEntry.objects.filter(project=fixture.project)
                    .values_list("frame_id", "labels_required"))
    users_per_frame: dict[int, set[int]] = defaultdict(set)
    for frame_id, user_id in rec.leases:
        users_per_frame[frame_id].add(user_id)
    double = sum(max(0, len(u) - required.get(f, 1)) for f, u in users_per_frame.items())

    labels = list(Label.objects.filter(project=fixture.project)
                  .values_list("pk", "frame_id", "annotator_id", "version", "status"))
    by_key = {(f, a): (pk, v, s) for pk, f, a, v, s in labels}
    revisions = set(LabelRevision.objects.filter(label__project=fixture.project)
                    .values_list("label_id", "request_id"))
    lost = 0
    for ack in rec.acks:
        stored = by_key.get((ack.frame, ack.user))
        if (stored is None or stored[1] < ack.version or stored[2] != LabelStatus.SUBMITTED
                or (stored[0], uuid.UUID(ack.request_id)) not in revisions):
            lost += 1
    per_key = Counter((f, a) for _, f, a, _, _ in labels)
    submitted = Counter(f for _, f, _, _, s in labels if s == LabelStatus.SUBMITTED)
    per_request = Counter(LabelRevision.objects.filter(label__project=fixture.project,
                                                       request_id__isnull=False)
                          .values_list("request_id", flat=True))
    acked_requests = Counter(a.request_id for a in rec.acks)
    duplicated = (sum(n - 1 for n in per_key.values() if n > 1)
                  + sum(max(0, n - required.get(f, 1)) for f, n in submitted.items())
                  + sum(n - 1 for n in per_request.values() if n > 1)
                  + sum(n - 1 for n in acked_requests.values() if n > 1))
    unacknowledged = sum(1 for _, f, a, _, s in labels if s == LabelStatus.SUBMITTED) - len(
        {(a.frame, a.user) for a in rec.acks})
    return {"double_leases": double, "lost_labels": lost, "duplicated_labels": duplicated,
            "labels_in_db": len(labels), "labels_acknowledged": len(rec.acks),
            "saved_but_unacknowledged": max(0, unacknowledged)}


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def run_load(base_url: str, fixture: Fixture, seconds: float, think_ms: float,
             stdout: Any = None) -> tuple[Recorder, dict[str, Any]]:
    """Run the annotators against `base_url` for `seconds`; returns the recorder and figures."""
    rec = Recorder()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=annotate, daemon=True,
                                args=(base_url, fixture, u, deadline, think_ms, rec))
               for u in fixture.users]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # Bounded: the deadline plus one request timeout and a retry.
    hard_stop = deadline + 2 * REQUEST_TIMEOUT_S + 5
    while any(t.is_alive() for t in threads) and time.monotonic() < hard_stop:
        time.sleep(min(5.0, max(0.1, hard_stop - time.monotonic())))
        if stdout is not None:
            with rec.lock:
                values = list(rec.latencies_ms)
                n_err, n_ack = len(rec.errors), len(rec.acks)
            stdout.write(f"  {time.monotonic() - started:5.1f}s: {len(values)} requests, "
                         f"{n_ack} labels, p95 {_percentile(values, 95)} ms, {n_err} errors")
    elapsed = time.monotonic() - started
    with rec.lock:
        values = list(rec.latencies_ms)
    return rec, {
        "requests": len(values) + sum(1 for e in rec.errors if ": " in e),
        "errors": len(rec.errors),
        "p50_ms": _percentile(values, 50), "p95_ms": _percentile(values, 95),
        "p99_ms": _percentile(values, 99),
        "requests_per_s": round(len(values) / elapsed, 1) if elapsed else None,
    }


def run(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    """Run the benchmark; returns the figures of the docstring and the reconciliation."""
    annotators, seconds, think_ms = options["annotators"], options["seconds"], options["think_ms"]
    server = None
    fixture = create_fixture(annotators, frames_needed(annotators, seconds, think_ms))
    try:
        if options.get("url"):
            base_url = options["url"].rstrip("/")
        else:
            stdout.write("bench load: starting gunicorn …")
            server = start_gunicorn(options.get("workers", 2), options.get("threads", 8))
            base_url = server.url
        stdout.write(f"bench load: {annotators} annotators, {fixture.project.frames.count()} "
                     f"frames, {seconds}s against {base_url} on {connection.vendor}")
        rec, figures = run_load(base_url, fixture, seconds, think_ms, stdout)
        checks = reconcile(fixture, rec)
        if rec.errors:
            stdout.write(f"  first errors: {rec.errors[:5]}")
        return {**figures, **checks, "annotators": annotators, "seconds": seconds,
                "think_ms": think_ms, "database": connection.vendor,
                "server": "gunicorn" if server else base_url}
    finally:
        if server is not None:
            server.stop()
        delete_fixture(fixture)

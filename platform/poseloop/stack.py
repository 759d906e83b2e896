"""The processes of a running PoseLoop: gunicorn, a Celery worker and Celery beat.

`manage.py up` (what `make run` starts), the system tests (`tests/system`) and `bench loop` all
start the stack through `Stack`, so what the tests prove is what a user runs. Each process
runs with `platform/` on PYTHONPATH (never as a package: see manage.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
WORKER_QUEUES = "default,training,inference"


def stack_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every process: this one's, with platform/ on PYTHONPATH."""
    env = dict(os.environ)
    env.update(extra or {})
    paths = [str(ROOT), str(ROOT / "platform"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    # Idle OpenMP threads sleep instead of spinning: on a shared CPU spinning costs 4x.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _with_path(url: str, path: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=path))


@contextmanager
def isolated_services(var_dir: Path, base: dict[str, str] | None = None,
                      name: str = "poseloop_stack", redis_dbs: tuple[int, int] = (9, 10)
                      ) -> Iterator[dict[str, str]]:
    """Environment for a throw-away stack: its own var dir, database and broker keys.

    Without DATABASE_URL / CELERY_BROKER_URL in `base` (default: this process's environment)
    the stack gets the defaults a lab gets (SQLite and the filesystem broker under var_dir).
    With PostgreSQL it gets a new database `name`, dropped afterwards; with Redis the broker
    and result backend move to databases `redis_dbs` (9 and 10), emptied first, so nothing
    queued by another PoseLoop on the same Redis is taken (two stacks at once: other numbers).
    """
    base = dict(os.environ if base is None else base)
    env = {"POSELOOP_VAR_DIR": str(var_dir), "DATABASE_URL": "", "CELERY_BROKER_URL": "",
           "CELERY_RESULT_BACKEND": "", "CACHE_URL": ""}
    database = base.get("DATABASE_URL", "")
    created = None
    if database.startswith(("postgres://", "postgresql://")):
        created = _create_database(database, name)
        env["DATABASE_URL"] = _with_path(database, "/" + name)
    for key, number in zip(("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"), redis_dbs,
                           strict=True):
        url = base.get(key, "")
        if url.startswith("redis://"):
            env[key] = _with_path(url, f"/{number}")
            import redis

            redis.Redis.from_url(env[key]).flushdb()
    try:
        yield env
    finally:
        if created:
            _drop_database(database, created)


def _admin_connection(url: str):  # noqa: ANN202 (a psycopg connection)
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _create_database(url: str, name: str) -> str:
    from psycopg import sql

    _drop_database(url, name)
    with _admin_connection(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def _drop_database(url: str, name: str) -> None:
    from psycopg import sql

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with _admin_connection(url) as conn:
        conn.execute(drop)


def manage(args: list[str], env: dict[str, str], timeout_s: float = 600) -> str:
    """Run `manage.py ARGS` in a child process with the stack's environment; its output."""
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT,
                          env=stack_env(env), capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes(host: str, port: int, concurrency: int, var_dir: Path,
              worker_name: str = "celery@%h") -> dict[str, list[str]]:
    """The command line of each process of the stack."""
    bin_dir = Path(sys.executable).parent
    return {
        "web": [
            str(bin_dir / "gunicorn"), "poseloop.wsgi", "--bind", f"{host}:{port}",
            "--workers", "2", "--threads", "4", "--timeout", "600", "--access-logfile", "-",
        ],
        "worker": [
            str(bin_dir / "celery"), "-A", "poseloop", "worker", "-l", "info",
            "-Q", WORKER_QUEUES, "-c", str(concurrency), "-n", worker_name,
        ],
        "beat": [
            str(bin_dir / "celery"), "-A", "poseloop", "beat", "-l", "info",
            "--schedule", str(var_dir / "celerybeat-schedule"),
        ],
    }


@dataclass
class Stack:
    """Start, watch and stop the three processes; logs go to files under `log_dir` or the tty."""

    var_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    concurrency: int = 2
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    worker_name: str = "celery@%h"
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, wait_s: float = 60.0) -> None:
        """Start every process and wait until the web server answers /healthz."""
        for name in processes(self.host, self.port, self.concurrency, self.var_dir):
            self.start_process(name)
        self.wait_until_up(wait_s)

    def start_process(self, name: str) -> None:
        """Start one process of the stack (again), its output appended to its log."""
        command = processes(self.host, self.port, self.concurrency, self.var_dir,
                            self.worker_name)[name]
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            if name not in self._logs:
                self._logs[name] = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
            out = self._logs[name]
        self.children[name] = subprocess.Popen(
            command, cwd=ROOT, env=stack_env(self.env), stdout=out,
            stderr=subprocess.STDOUT if out else None, start_new_session=self.log_dir is not None)

    def stop_process(self, name: str, timeout_s: float = 20.0) -> None:
        """Stop one process (SIGTERM, then SIGKILL), as an operator or a crash would."""
        process = self.children[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def wait_until_up(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            dead = self.dead()
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited during start-up\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"{self.url} did not answer within {wait_s:.0f} s\n{self.log_tail()}")

    def dead(self) -> list[str]:
        return [name for name, p in self.children.items() if p.poll() is not None]

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop every process (a warm shutdown for Celery) and close the logs."""
        for name in self.children:
            self.stop_process(name, timeout_s)
        for log in self._logs.values():
            log.close()

    def log(self, name: str) -> str:
        if self.log_dir is None or not (self.log_dir / f"{name}.log").exists():
            return ""
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of each process's log (what a failed system test prints)."""
        parts = []
        for name in self.children:
            text = self.log(name).splitlines()[-lines:]
            parts.append(f"----- {name} (last {len(text)} lines) -----\n" + "\n".join(text))
        return "\n".join(parts)

    def registered_tasks(self, wait_s: float = 60.0) -> list[str]:
        """The task names the worker listed at start-up (`[tasks]` in its info log)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            names = parse_registered_tasks(self.log("worker"))
            if names and "ready." in self.log("worker"):
                return names
            time.sleep(0.5)
        raise RuntimeError(f"the worker did not list its tasks\n{self.log_tail()}")


def parse_registered_tasks(worker_log: str) -> list[str]:
    """Task names from the `[tasks]` section of a Celery worker's start-up banner."""
    names: list[str] = []
    in_tasks = False
    for line in worker_log.splitlines():
        stripped = line.strip()
        if stripped == "[tasks]":
            in_tasks = True
            continue
        if in_tasks:
            if stripped.startswith(". "):
                names.append(stripped[2:].split()[0])
            elif stripped:
                break
    return names

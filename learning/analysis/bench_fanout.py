"""Video analysis fanned out to 1, then 2 single-threaded Celery worker processes.

Starts real workers (`celery -A poseloop worker -Q inference -c 1 --pool prefork`, one OpenMP
/ torch thread each) against a Redis broker and a Redis result backend, queues the analysis
the way the web does (`learning.analysis.videos.start_analysis`: a chord of chunk tasks, then the
merge) and times it from the queueing to the job's success. The workers see this process's
database and media (same environment: DATABASE_URL, POSELOOP_VAR_DIR, MEDIA_ROOT).

The project is --project (its current model; --video one of its videos by name, or a file to
add), else a synthetic one built here: a generated video of --frames frames and a network with
the engine's default config and RANDOM weights (said so in the output: speed only; with random
weights tracking never trusts a window, so every frame runs whole: the worst case).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

SYNTHETIC_PROJECT = "Bench: fan-out"
SYNTHETIC_VIDEO = "fanout.mp4"
# Everything a worker runs with one thread: the network (torch, ONNX Runtime via
# torch.get_num_threads), OpenMP/BLAS, and OpenCV's own pool.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "OPENCV_FOR_THREADS_NUM": "1"}


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--project", help="Project name (its current model); default: build a "
                                          "synthetic project with a random-weight network.")
    parser.add_argument("--video", help="With --project: a video of the project (its name) or a "
                                        "video file to add to it.")
    parser.add_argument("--frames", type=int, default=2048,
                        help="Synthetic video: frames (default 2048).")
    parser.add_argument("--size", default="320x240", help="Synthetic video: WIDTHxHEIGHT.")
    parser.add_argument("--workers", default="1,2", help="Worker process counts, e.g. 1,2.")
    parser.add_argument("--chunk-frames", type=int, default=256,
                        help="Analysis chunk length (rounded up to the keyframe interval).")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--result-backend", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="Seconds one analysis may take before the bench gives up.")


def parse_workers(text: str) -> list[int]:
    """'1,2' -> [1, 2]: distinct positive counts, ascending."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise ValueError(f"--workers must be comma-separated integers, not {text!r}") from exc
    if not counts or counts[0] < 1:
        raise ValueError(f"--workers needs counts >= 1, not {text!r}")
    return counts


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"--size must look like 320x240, not {text!r}")
    return int(width), int(height)


def worker_command(name: str) -> list[str]:
    """One single-process worker on the inference queue (every analysis task goes there)."""
    celery = str(Path(sys.executable).parent / "celery")
    return [celery, "-A", "poseloop", "worker", "-Q", "inference", "-c", "1",
            "--pool", "prefork", "-n", name, "-l", "info", "--without-gossip",
            "--without-mingle", "--without-heartbeat"]


def worker_env(broker: str, result_backend: str) -> dict[str, str]:
    """This process's environment (database, media, var dir) with platform/ on PYTHONPATH,
    the Redis broker and backend, real (not eager) tasks and one thread."""
    from poseloop.stack import stack_env

    return stack_env({"CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": result_backend,
                      "CELERY_TASK_ALWAYS_EAGER": "0", **ONE_THREAD})


def count_chunks(worker_log: str) -> int:
    """Finished analysis chunk tasks in a worker's info log."""
    return sum(1 for line in worker_log.splitlines()
               if "analyze_chunk_task[" in line and " succeeded in " in line)


def summarize(frames: int, seconds: dict[int, float]) -> dict[str, Any]:
    """Seconds, frames/s per worker count, and the speed-up of each count over the smallest."""
    first = min(seconds)
    return {
        "seconds_by_workers": {str(w): round(s, 2) for w, s in seconds.items()},
        "fps_by_workers": {str(w): round(frames / s, 2) for w, s in seconds.items()},
        "speedup_by_workers": {str(w): round(seconds[first] / s, 3)
                               for w, s in seconds.items()},
    }


@dataclass
class Workers:
    """`count` worker processes with their logs; stopped with a warm shutdown, then killed."""

    count: int
    env: dict[str, str]
    log_dir: Path
    procs: list[subprocess.Popen] | None = None
    logs: list[IO[bytes]] | None = None

    def start(self, wait_s: float = 120.0) -> None:
        from poseloop.stack import ROOT

        self.procs, self.logs = [], []
        for i in range(self.count):
            log = open(self.log_dir / f"worker{self.count}-{i}.log", "wb")  # noqa: SIM115
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                worker_command(f"fanout{i}-{os.getpid()}@%h"), cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + wait_s
        while not all("ready." in self.log(i) for i in range(self.count)):
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not ready within {wait_s:.0f} s\n{self.tail()}")
            time.sleep(0.5)

    def log(self, i: int) -> str:
        path = self.log_dir / f"worker{self.count}-{i}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join("\n".join(self.log(i).splitlines()[-lines:])
                         for i in range(self.count))

    def chunks_done(self) -> list[int]:
        """Chunk tasks each worker finished (its info log): shows the fan-out happened."""
        return [count_chunks(self.log(i)) for i in range(self.count)]

    def check_alive(self) -> None:
        dead = [p.returncode for p in self.procs or [] if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a worker exited (codes {dead})\n{self.tail()}")

    def stop(self) -> None:
        for p in self.procs or []:
            if p.poll() is None:
                p.terminate()  # SIGTERM: Celery's warm shutdown
        for p in self.procs or []:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for log in self.logs or []:
            log.close()


def _synthetic(options: dict[str, Any], stdout: TextIO) -> tuple[Any, Any, str]:
    """(video, version, model description) of the synthetic project, made once and reused."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from learning.models import ModelVersion, VersionStatus
    from projects.models import Project
    from projects.services import create_project
    from videos.synthetic import generate_video, skeleton_spec

    width, height = parse_size(options["size"])
    name = f"{SYNTHETIC_VIDEO.removesuffix('.mp4')}-{options['frames']}-{width}x{height}.mp4"
    project = Project.objects.filter(name=SYNTHETIC_PROJECT).first()
    if project is None:
        user, _ = get_user_model().objects.get_or_create(username="bench-fanout")
        project = create_project(user, name=SYNTHETIC_PROJECT, skeleton=skeleton_spec())
    video = project.videos.filter(name=name).first()
    if video is None:
        from videos.ingest import add_video

        folder = Path(settings.VAR_DIR) / "bench-fanout"
        folder.mkdir(parents=True, exist_ok=True)
        stdout.write(f"generating a {options['frames']}-frame {width}x{height} video\n")
        generate_video(folder / name, n_frames=options["frames"], width=width, height=height)
        video = add_video(project, folder / name, name=name)
    version = ModelVersion.objects.filter(project=project, status=VersionStatus.READY).first()
    if version is None:
        version = _random_version(project)
    return video, version, "engine default network, RANDOM weights (speed only)"


def _random_version(project: Any) -> Any:
    """A ready current model: the engine's default network with random weights."""
    from django.core.files import File

    from learning.engine.checkpoint import save_checkpoint
    from learning.engine.config import ModelConfig
    from learning.engine.network import build_model
    from learning.models import CurrentModel, ModelVersion, VersionStatus

    cfg = ModelConfig(num_keypoints=len(project.bodypart_names()), pretrained=None)
    version = ModelVersion.objects.create(
        project=project, iteration=1, status=VersionStatus.READY, metrics={},
        model_config=cfg.to_dict(),
        label_snapshot={"labels": [], "frame_ids": [], "test_frame_ids": [],
                        "max_revision_id": 0})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        save_checkpoint(path, build_model(cfg), cfg, project.bodypart_names())
        with open(path, "rb") as fh:
            version.checkpoint.save("model.pt", File(fh))
    # Not registry.set_current: that also queues scoring, which is not what is measured.
    CurrentModel.objects.update_or_create(project=project, defaults={"version": version})
    return version


def _named(options: dict[str, Any]) -> tuple[Any, Any, str]:
    """(video, current version, description) of --project; --video a name in it or a file."""
    from learning.analysis.videos import resolve_version
    from projects.models import Project
    from videos.ingest import DuplicateVideo, add_video

    project = Project.objects.get(name=options["project"])
    version = resolve_version(project, None)
    if not options.get("video"):
        video = project.videos.order_by("-frame_count").first()
    elif Path(options["video"]).is_file():
        path = Path(options["video"])
        try:
            video = add_video(project, path, name=path.name, register=True)
        except DuplicateVideo as exc:
            video = exc.existing
    else:
        video = project.videos.filter(name=options["video"]).first()
    if video is None:
        raise ValueError(f"no video {options.get('video') or ''!r} in {project.name!r}")
    return video, version, f"{project.name} model v{version.iteration}"


def _prepare_broker(app: Any) -> int:
    """Refuse a broker that other workers consume (they would take chunks and skew the
    figures); drop what an interrupted run left in the inference queue. Returns that count."""
    replies = app.control.ping(timeout=1.0)
    if replies:
        names = sorted(name for reply in replies for name in reply)
        raise ValueError(f"workers {names} already consume {app.conf.broker_url}: stop them "
                         "or pass another --broker")
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_purge("inference") or 0)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so the workers are stopped on the way out


def _analyse_once(video: Any, version: Any, options: dict[str, Any], workers: Workers) -> float:
    """Queue one analysis as the web does and return its seconds to success."""
    from django.db import transaction

    from jobs.models import Job, JobStatus
    from learning.analysis.videos import start_analysis

    started = time.perf_counter()
    with transaction.atomic():  # the task goes out on commit, as from a view
        job = start_analysis(video, version, {"chunk_frames": options["chunk_frames"],
                                              "batch_size": options["batch"]})
    deadline = started + options["timeout"]
    while True:
        status, message = Job.objects.filter(pk=job.pk).values_list("status", "message").get()
        if status == JobStatus.SUCCEEDED:
            return time.perf_counter() - started
        if status in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise RuntimeError(f"analysis job {job.pk} {status}: {message}\n{workers.tail()}")
        workers.check_alive()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"analysis job {job.pk} still {status} after "
                               f"{options['timeout']:.0f} s\n{workers.tail()}")
        time.sleep(0.2)


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    """Analyse the same video with each worker count; print seconds, fps and speed-ups."""
    from learning.analysis.videos import plan_chunks
    from poseloop.celery import app

    counts = parse_workers(options["workers"])
    # This process only queues: to the workers' broker and backend (set before anything is
    # sent: the connection pool keeps the first broker it saw).
    app.conf.update(broker_url=options["broker"], result_backend=options["result_backend"],
                    task_always_eager=False)
    dropped = _prepare_broker(app)
    if dropped:
        stdout.write(f"dropped {dropped} messages an earlier run left in the queue\n")
    video, version, model = (_named(options) if options.get("project")
                             else _synthetic(options, stdout))
    chunks = plan_chunks(video.frame_count, options["chunk_frames"], options["batch"])
    stdout.write(f"{video.name}: {video.frame_count} frames {video.width}x{video.height}, "
                 f"{len(chunks)} chunks of <= {chunks[0][1] - chunks[0][0]}; {model}; "
                 f"{os.cpu_count()} cores, "
                 f"load {os.getloadavg()[0]:.2f}\n")
    env = worker_env(options["broker"], options["result_backend"])
    seconds: dict[int, float] = {}
    chunks_by_worker: dict[str, list[int]] = {}
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
            for count in counts:
                workers = Workers(count, env, Path(tmp))
                try:
                    workers.start()
                    seconds[count] = _analyse_once(video, version, options, workers)
                finally:
                    workers.stop()
                chunks_by_worker[str(count)] = workers.chunks_done()
                stdout.write(f"  {count} worker(s): {seconds[count]:.1f} s, "
                             f"{video.frame_count / seconds[count]:.1f} frames/s; chunks per "
                             f"worker {chunks_by_worker[str(count)]}\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
    result = summarize(video.frame_count, seconds)
    if len(counts) > 1:
        stdout.write(f"  speed-up {counts[-1]} vs {counts[0]} worker(s): "
                     f"{result['speedup_by_workers'][str(counts[-1])]:.2f}x\n")
    return {
        "frames": video.frame_count,
        "video": video.name,
        "chunks": len(chunks),
        "chunk_frames": options["chunk_frames"],
        "batch": options["batch"],
        "model": model,
        **result,
        "chunks_by_worker": chunks_by_worker,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }

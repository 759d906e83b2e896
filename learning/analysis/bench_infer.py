"""End-to-end video analysis speed (decode + inference + pose table write) per CPU backend.

Backends: PyTorch eager (the reference), eager channels-last, channels-last with bf16 autocast
over the whole network or over the backbone only (head float32), TorchScript (frozen) and ONNX
Runtime (all graph optimisations, intra-op threads = cores), ONNX Runtime with an int8 backbone
(calibrated on frames of the benchmarked range; `engine.quantize`), and the tracked-window
variants (`engine.tracking`). Where CUDA is present, `cuda` is the analysis path on the GPU
(`engine.export.gpu_runner`), also timed on frames already decoded into memory
(`fps_decoded_frames_by_backend`: network and keypoint decoding, no video decoding).
The fastest backend whose keypoints stay within 0.5 px of eager wins; then the same frames are
split in two halves analysed by 1 and by 2 processes (what 2 Celery workers on chunks do) to
measure the speed-up. Uses the project's current model, else --checkpoint, else a network with
the engine's default config and random weights (said so in the output: speed only).
With a project that has labeled frames, each backend's test error against those labels is
printed too (`labels_rmse_px_by_backend`: the project's test split, whole frames; tracked
backends run the window centred on the whole-frame prediction, as on a video after a keyframe):
"equal accuracy" read against the labels rather than point by point against eager.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import tempfile
import time
from argparse import ArgumentParser
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from learning.engine.checkpoint import load_model, save_checkpoint
from learning.engine.config import ModelConfig
from learning.engine.data import (
    PoseSample,
    load_image,
    pad_to_multiple,
    resize_for_network,
)
from learning.engine.export import (
    OnnxRunner,
    Runner,
    TorchRunner,
    TorchScriptRunner,
    export_onnx,
    export_torchscript,
    gpu_runner,
)
from learning.engine.metrics import evaluate
from learning.engine.network import PoseNet, forward_gflop
from learning.engine.quantize import quantize_onnx_int8, video_calibration
from learning.engine.tracking import CropTracker, TrackingConfig, analyze_video_tracked
from learning.engine.train import gpu_name
from learning.engine.video import FrameBatch, analyze_video, decode_outputs, iter_batches

CPU_BACKENDS = ("torch", "torch-cl", "torch-cl-bf16", "torch-cl-bf16bb", "torchscript",
                "onnxruntime", "onnxruntime-int8", "torch-cl-tracked", "onnxruntime-tracked",
                "onnxruntime-int8-tracked")
GPU_BACKENDS = ("cuda",)
BACKENDS = CPU_BACKENDS + GPU_BACKENDS
TRACKED = "-tracked"
MAX_DIFF_PX = 0.5


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--project", required=True, help="Project name (its current model).")
    parser.add_argument("--video", required=True, help="Video file path.")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="Worker counts to compare, e.g. 1,2.")
    parser.add_argument("--frames", type=int, default=0, help="Only the first N frames (0: all).")
    parser.add_argument("--backends", default=None,
                        help=f"Comma-separated, from {', '.join(BACKENDS)} (default: every CPU "
                             "backend, and cuda where CUDA is present).")
    parser.add_argument("--checkpoint", help="Engine checkpoint to use if the project has none.")


def _make_runner(backend: str, files: dict[str, str], threads: int) -> Runner:
    torch.set_num_threads(threads)
    backend = backend.removesuffix(TRACKED)
    if backend == "onnxruntime-int8":
        return OnnxRunner(files["onnx-int8"], threads=threads)
    if backend == "onnxruntime":
        return OnnxRunner(files["onnx"], threads=threads)
    if backend == "torchscript":
        return TorchScriptRunner(files["torchscript"])
    model, _ = load_model(files["checkpoint"])
    if backend == "cuda":
        return gpu_runner(model)
    bf16: bool | str = "backbone" if backend.endswith("bf16bb") else backend.endswith("bf16")
    return TorchRunner(model, channels_last="-cl" in backend, bf16=bf16)


def _end_to_end(runner: Runner, cfg: ModelConfig, video: str, start: int, stop: int,
                batch: int, out_dir: str, bodyparts: list[str], tracked: bool = False
                ) -> np.ndarray:
    from learning.formats.pose_table import write_pose_table

    if tracked:
        poses, _ = analyze_video_tracked(video, runner, cfg, start=start, stop=stop,
                                         batch_size=batch)
    else:
        poses = analyze_video(video, runner, cfg, start=start, stop=stop, batch_size=batch)
    write_pose_table(Path(out_dir) / f"bench{start}", "PoseLoop_bench", bodyparts, poses)
    return poses


def _worker(backend: str, files: dict[str, str], cfg: dict[str, Any], video: str, start: int,
            stop: int, batch: int, threads: int, bodyparts: list[str], go: Any, ready: Any,
            out: Any) -> None:
    """One analysis process (a Celery worker on one chunk), timed from a shared start signal."""
    runner = _make_runner(backend, files, threads)
    model_cfg = ModelConfig.from_dict(cfg)
    ready.release()
    go.wait()
    with tempfile.TemporaryDirectory() as tmp:
        _end_to_end(runner, model_cfg, video, start, stop, batch, tmp, bodyparts,
                    backend.endswith(TRACKED))
    out.put(time.perf_counter())


def _parallel(workers: int, backend: str, files: dict[str, str], cfg: ModelConfig, video: str,
              frames: int, batch: int, bodyparts: list[str]) -> float:
    """fps of `frames` frames split into `workers` chunks (batch multiples), one process each."""
    ctx = mp.get_context("spawn")
    per_worker = -(-frames // workers)
    size = -(-per_worker // batch) * batch
    ranges = [(s, min(s + size, frames)) for s in range(0, frames, size)]
    threads = max(1, (os.cpu_count() or 1) // len(ranges))
    go, ready, out = ctx.Event(), ctx.Semaphore(0), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(backend, files, cfg.to_dict(), video, a, b, batch,
                                                threads, bodyparts, go, ready, out))
             for a, b in ranges]
    for p in procs:
        p.start()
    waiting = len(procs)
    while waiting:  # every worker has its model loaded
        if ready.acquire(timeout=1.0):
            waiting -= 1
        else:
            _check_alive(procs)
    started = time.perf_counter()
    go.set()
    ends = []
    while len(ends) < len(procs):
        try:
            ends.append(out.get(timeout=1.0))
        except queue.Empty:
            _check_alive(procs)
    for p in procs:
        p.join()
    return frames / (max(ends) - started)


def _decoded_fps(runner: Runner, cfg: ModelConfig, video: str, frames: int, batch: int
                 ) -> float:
    """frames/s of network and keypoint decoding on frames already decoded into memory (at most
    eight batches of the video, cycled; after one warm-up batch): the video decoder left out."""
    batches = list(iter_batches(video, cfg.input_scale, stop=min(frames, 8 * batch),
                                batch_size=batch))
    heatmaps, locref = runner(batches[0].images)
    decode_outputs(cfg, heatmaps, locref, batches[0].scales)
    done, started = 0, time.perf_counter()
    while done < frames:
        item = batches[(done // batch) % len(batches)]
        heatmaps, locref = runner(item.images)  # outputs come back on the CPU: synchronised
        decode_outputs(cfg, heatmaps, locref, item.scales)
        done += len(item.images)
    return done / (time.perf_counter() - started)


def _backends(requested: str | None) -> list[str]:
    """The backends to measure: the requested ones, else every CPU one and cuda where present."""
    if requested is None:
        return list(CPU_BACKENDS) + (list(GPU_BACKENDS) if torch.cuda.is_available() else [])
    backends = [b for b in requested.split(",") if b]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    if set(backends) & set(GPU_BACKENDS) and not torch.cuda.is_available():
        raise SystemExit("the cuda backend needs a CUDA GPU; none is visible to PyTorch")
    return backends


def _check_alive(procs: list[Any]) -> None:
    """Raise (and stop the others) when a worker died: its traceback is on stderr."""
    failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
    if failed:
        for p in procs:
            p.terminate()
        raise RuntimeError(f"a benchmark worker process failed (exit codes {failed})")


def _model(options: dict[str, Any], stdout: TextIO) -> tuple[PoseNet, ModelConfig, list[str], str]:
    from learning.training.registry import current_version, loaded_model
    from projects.models import Project

    project = Project.objects.filter(name=options["project"]).first()
    if project is None:
        raise SystemExit(f"no project named {options['project']!r}")
    bodyparts = project.bodypart_names()
    version = current_version(project)
    if version is not None and version.checkpoint:
        model, cfg = loaded_model(version)
        return model, cfg, bodyparts, f"project model {version.iteration}"
    if options.get("checkpoint"):
        model, cfg = load_model(options["checkpoint"])
        return model, cfg, bodyparts, f"checkpoint {options['checkpoint']}"
    stdout.write("No trained model: engine default config with RANDOM weights (speed only).\n")
    cfg = replace(ModelConfig(num_keypoints=len(bodyparts)), pretrained=None)
    torch.manual_seed(0)
    return PoseNet(cfg).eval(), cfg, bodyparts, "random weights (engine defaults)"


def _labeled_samples(project_name: str) -> list[PoseSample]:
    """The project's labeled test frames (all labeled frames if the test split is empty)."""
    from learning.training.datasets import build_dataset
    from projects.models import Project

    dataset = build_dataset(Project.objects.get(name=project_name))
    return dataset.test or dataset.train


def _labels_rmse(runner: Runner, cfg: ModelConfig, samples: list[PoseSample],
                 tracked: bool) -> float:
    """Test RMSE (original px) of `runner` on labeled images, whole frame or tracked window."""
    poses = []
    for sample in samples:
        small, scale = resize_for_network(load_image(sample.image_path), cfg.input_scale)
        image = pad_to_multiple([small])[0]
        if tracked:  # row 0 whole (a keyframe) centres the window that row 1 runs on
            batch = FrameBatch(0, np.stack([image, image]), np.stack([scale, scale]))
            poses.append(CropTracker(runner, cfg, TrackingConfig())(batch, {0})[1])
        else:
            heatmaps, locref = runner(image[None])
            poses.append(decode_outputs(cfg, heatmaps, locref, scale[None])[0])
    truth = np.stack([np.where(s.present[:, None], s.keypoints, np.nan) for s in samples])
    return float(evaluate(np.stack(poses), truth)["rmse_px"])


def _confident_diff(poses: np.ndarray, reference: np.ndarray, pcutoff: float
                    ) -> dict[str, float]:
    """Compared on the points a pose table keeps (likelihood >= pcutoff in both): the largest
    coordinate difference, and the share of all points that are kept by one and not the other
    (those become NaN on one side once the analysis's likelihood cutoff is applied)."""
    kept, kept_ref = poses[..., 2] >= pcutoff, reference[..., 2] >= pcutoff
    both = kept & kept_ref
    diff = np.abs(poses[..., :2] - reference[..., :2])[both]
    return {"max_abs_diff_px": round(float(diff.max()) if diff.size else 0.0, 4),
            "flipped_share": round(float((kept != kept_ref).mean()), 5)}


def _frame_count(video: str) -> int:
    import cv2

    cap = cv2.VideoCapture(video)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def _network_input(video: str, cfg: ModelConfig) -> tuple[int, int]:
    """(height, width) of the padded network input for this video's frames (its first frame
    through the same resize and padding as analysis)."""
    import cv2

    cap = cv2.VideoCapture(video)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read a frame of {video}")
    small, _ = resize_for_network(frame, cfg.input_scale)
    height, width = pad_to_multiple([small]).shape[1:3]
    return height, width


def _work(model: PoseNet, video: str, cfg: ModelConfig, stdout: TextIO) -> dict[str, float]:
    """GFLOP per whole frame and per tracked window: what a frame rate asks of the CPU."""
    height, width = _network_input(video, cfg)
    crop = TrackingConfig().crop_size
    work = {"whole_frame": forward_gflop(model, height, width),
            "window": forward_gflop(model, crop, crop)}
    stdout.write(f"network work: {work['whole_frame']:.2f} GFLOP per whole frame "
                 f"({width}x{height} network pixels), {work['window']:.2f} per {crop}x{crop} "
                 f"window; 60 fps on whole frames needs {60 * work['whole_frame']:.0f} GFLOP/s\n")
    return {k: round(v, 3) for k, v in work.items()}


def run(options: dict[str, Any], stdout: TextIO) -> dict[str, Any]:
    """Measure every backend end to end, pick the fastest accurate one, then 1 vs 2 workers."""
    from learning.analysis.videos import DEFAULT_PCUTOFF as pcutoff  # Django models: not at import

    video = options["video"]
    batch = int(options["batch"])
    frames = int(options["frames"]) or _frame_count(video)
    backends = _backends(options.get("backends"))
    model, cfg, bodyparts, source = _model(options, stdout)
    cores = os.cpu_count() or 1
    stdout.write(f"model: {source}; {cfg.backbone}, input scale {cfg.input_scale}; "
                 f"{frames} frames, batch {batch}, {cores} cores, load {os.getloadavg()}\n")
    work = _work(model, video, cfg, stdout)
    fps: dict[str, float] = {}
    poses: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="bench-infer-") as tmp:
        files = {"checkpoint": f"{tmp}/model.pt", "onnx": f"{tmp}/model.onnx",
                 "torchscript": f"{tmp}/model.ts"}
        save_checkpoint(files["checkpoint"], model, cfg, bodyparts)
        export_onnx(model, cfg, files["onnx"])
        export_torchscript(model, cfg, files["torchscript"])
        if any(b.startswith("onnxruntime-int8") for b in backends):
            files["onnx-int8"] = quantize_onnx_int8(files["onnx"], f"{tmp}/model-int8.onnx",
                                                    video_calibration(video, cfg, span=frames))
        samples = _labeled_samples(options["project"])
        labels_rmse: dict[str, float] = {}
        confident: dict[str, dict[str, float]] = {}
        decoded_fps: dict[str, float] = {}
        for backend in ["torch", *[b for b in backends if b != "torch"]]:
            runner = _make_runner(backend, files, cores)
            tracked = backend.endswith(TRACKED)
            _end_to_end(runner, cfg, video, 0, min(batch, frames), batch, tmp, bodyparts,
                        tracked)  # warm-up
            started = time.perf_counter()
            poses[backend] = _end_to_end(runner, cfg, video, 0, frames, batch, tmp, bodyparts,
                                         tracked)
            fps[backend] = frames / (time.perf_counter() - started)
            dist = np.linalg.norm(poses[backend][..., :2] - poses["torch"][..., :2], axis=-1)
            diff = float(np.abs(poses[backend][..., :2] - poses["torch"][..., :2]).max())
            confident[backend] = _confident_diff(poses[backend], poses["torch"], pcutoff)
            stdout.write(f"  {backend:19s} {fps[backend]:6.1f} fps end to end, vs eager: "
                         f"max |diff| {diff:.3f} px, mean distance {dist.mean():.3f} px, "
                         f"{(dist > MAX_DIFF_PX).mean():.1%} of points > {MAX_DIFF_PX} px; "
                         f"points with likelihood >= {pcutoff} in both: max |diff| "
                         f"{confident[backend]['max_abs_diff_px']:.3f} px, "
                         f"{confident[backend]['flipped_share']:.2%} of points change side of "
                         f"the cutoff\n")
            if backend in GPU_BACKENDS:
                decoded_fps[backend] = _decoded_fps(runner, cfg, video, frames, batch)
                stdout.write(f"  {'':19s} frames already in memory: {decoded_fps[backend]:.1f} "
                             "fps (network and keypoint decoding)\n")
            if samples:
                labels_rmse[backend] = _labels_rmse(runner, cfg, samples, tracked)
                stdout.write(f"  {'':19s} test error vs {len(samples)} labeled frames: "
                             f"{labels_rmse[backend]:.3f} px\n")
            del runner
        diffs = {b: float(np.abs(p[..., :2] - poses["torch"][..., :2]).max())
                 for b, p in poses.items()}
        dists = {b: np.linalg.norm(p[..., :2] - poses["torch"][..., :2], axis=-1)
                 for b, p in poses.items()}
        accurate = [b for b in fps if diffs[b] <= MAX_DIFF_PX]
        fastest = max(accurate, key=lambda b: fps[b])
        counts = sorted({int(w) for w in str(options["workers"]).split(",") if w})
        by_workers = {w: _parallel(w, fastest, files, cfg, video, frames, batch, bodyparts)
                      for w in counts}
    for w, value in by_workers.items():
        stdout.write(f"  {fastest} with {w} worker process(es): {value:.1f} fps\n")
    speedup = by_workers[counts[-1]] / by_workers[counts[0]] if len(counts) > 1 else 1.0
    return {
        "frames": frames,
        "fps_end_to_end": round(fps["torch"], 2),
        "fps_fastest": round(fps[fastest], 2),
        "fastest_backend": fastest,
        "max_abs_diff_px": round(diffs[fastest], 4),
        "fps_by_backend": {b: round(v, 2) for b, v in fps.items()},
        "fps_decoded_frames_by_backend": {b: round(v, 2) for b, v in decoded_fps.items()},
        "max_abs_diff_px_by_backend": {b: round(v, 4) for b, v in diffs.items()},
        "mean_distance_px_by_backend": {b: round(float(d.mean()), 4) for b, d in dists.items()},
        # Robust to the rare points whose near-tied peaks flip under reduced precision.
        "median_distance_px_by_backend": {b: round(float(np.median(d)), 4)
                                          for b, d in dists.items()},
        "confident_vs_eager_by_backend": confident,
        "labels_rmse_px_by_backend": {b: round(v, 3) for b, v in labels_rmse.items()},
        "gflop_per_frame": work,
        # Achieved arithmetic rate of the whole-frame backends (fps x work per frame).
        "gflops_by_backend": {b: round(v * work["whole_frame"], 1) for b, v in fps.items()
                              if not b.endswith(TRACKED)},
        "fps_by_workers": {str(w): round(v, 2) for w, v in by_workers.items()},
        "workers_speedup": round(speedup, 3),
        "model": source,
        "batch": batch,
        "cores": cores,
        "gpu": gpu_name(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }

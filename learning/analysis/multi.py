"""Analysing videos of several animals: per-frame animals → tracks → multi-animal tables.

A multi-animal version's chunks save every frame's animals untracked, (frames, slots, K, 3);
the merge links them into tracks over the whole video (`engine.multi.tracking`, sequential, a
fraction of the network's time) and publishes DeepLabCut multi-animal tables whose individuals
are the track names, plus ``tracks.npz`` (the tracker's output before any edit). A PI's
identity fix ("swap tracks A and B from frame t on", `TrackSwap`) is stored and the analysis'
tables are written again from ``tracks.npz`` with every fix applied in order.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction

from learning.engine.multi.tracking import TrackerConfig, TrackResult, apply_swaps, track
from learning.formats.pose_table import write_pose_table
from learning.formats.sleap import write_slp_predictions
from learning.models import TrackSwap
from projects.models import Project
from videos.models import Video

TRACKS_FILE = "tracks.npz"
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Tracks:
    """Tracked animals of a whole video: poses (F, T, K, 3), confidence (F, T), names (T)."""

    poses: np.ndarray
    confidence: np.ndarray
    names: list[str]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, poses=self.poses, confidence=self.confidence,
                            names=np.array(self.names))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Tracks:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(npz["poses"], npz["confidence"], [str(n) for n in npz["names"]])


def tracker_config(project: Project) -> TrackerConfig:
    """The project's tracker: at most its animals, constant velocity, mean-distance cost."""
    return TrackerConfig(max_tracks=project.max_animals)


def track_animals(animals: np.ndarray, project: Project) -> Tracks:
    """Link the frames' animals (F, slots, K, 3) into at most `project.max_animals` tracks."""
    frames = [a[np.isfinite(a[..., :2]).all(axis=-1).any(axis=-1)] for a in animals]
    result: TrackResult = track(frames, tracker_config(project), n_keypoints=animals.shape[2])
    if not result.track_names:
        # No animal found in any frame (an untrained or wrong model): one empty track, so the
        # tables stay valid (a multi-animal table needs one individual) and say "not found".
        n, k = len(animals), animals.shape[2]
        return Tracks(np.full((n, 1, k, 3), np.nan), np.full((n, 1), np.nan), ["track_0"])
    return Tracks(result.poses, result.confidence, result.track_names)


def edited(tracks: Tracks, swaps: Sequence[tuple[int, str, str]]) -> Tracks:
    """The tracks with each (frame, track a, track b) swap applied in order."""
    index = {name: i for i, name in enumerate(tracks.names)}
    pairs = [(frame, index[a], index[b]) for frame, a, b in swaps]
    poses, confidence = apply_swaps(tracks.poses, tracks.confidence, pairs)
    return Tracks(poses, confidence, tracks.names)


def swaps_of(video: Video, analysis_id: int) -> list[tuple[int, str, str]]:
    """The analysis' stored identity fixes, oldest first."""
    return list(TrackSwap.objects.filter(video=video, analysis_id=analysis_id)
                .order_by("id").values_list("frame", "track_a", "track_b"))


def track_summary(tracks: Tracks) -> dict[str, object]:
    """Per track: frames present, mean confidence, low-confidence frames (for the page)."""
    present = np.isfinite(tracks.confidence)
    out = []
    for t, name in enumerate(tracks.names):
        conf = tracks.confidence[present[:, t], t]
        out.append({"name": name, "frames": int(present[:, t].sum()),
                    "mean_confidence": float(conf.mean()) if conf.size else None,
                    "low_confidence_frames": int((conf < LOW_CONFIDENCE).sum())})
    return {"tracks": out, "frames": int(tracks.poses.shape[0])}


def write_multi_files(folder: Path, stem: str, scorer: str, bodyparts: list[str],
                      raw: Tracks, swaps: Sequence[tuple[int, str, str]] = (),
                      video_path: str | None = None,
                      edges: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The multi-animal pose table (H5 + CSV, individuals = track names), a per-frame track
    confidence CSV and a SLEAP file with the tracks, all with `swaps` applied to the tracker's
    output `raw`, and ``tracks.npz`` (`raw` itself, so fixes are always applied to it once);
    returns the file names (the table first)."""
    tracks = edited(raw, swaps)
    poses = tracks.poses.copy()
    poses[..., 2] = np.clip(np.nan_to_num(poses[..., 2], nan=0.0), 0.0, 1.0)
    poses[~np.isfinite(tracks.poses[..., :2]).all(axis=-1)] = np.nan
    h5, csv = write_pose_table(folder / f"{stem}{scorer}", scorer, bodyparts, poses,
                               individuals=tracks.names)
    files = [h5.name, csv.name]
    conf = folder / f"{stem}{scorer}_track_confidence.csv"
    header = "frame," + ",".join(tracks.names)
    rows = np.column_stack([np.arange(len(tracks.confidence)), tracks.confidence])
    np.savetxt(conf, rows, delimiter=",", header=header, comments="", fmt="%.6g")
    files.append(conf.name)
    if video_path is not None:
        slp = folder / f"{stem}{scorer}.slp"
        write_slp_predictions(slp, video_path, bodyparts, list(edges), tracks.poses,
                              tracks.names)
        files.append(slp.name)
    (folder / TRACKS_FILE).write_bytes(raw.to_bytes())
    files.append(TRACKS_FILE)
    return files


def stored_tracks(folder: str) -> Tracks:
    """The tracker's output stored beside a published analysis."""
    with default_storage.open(f"{folder}/{TRACKS_FILE}", "rb") as fh:
        return Tracks.from_bytes(fh.read())


def check_swap(tracks: Tracks, frame: int, track_a: str, track_b: str) -> None:
    """ValidationError (400) unless the swap names two different tracks and a frame inside."""
    unknown = [t for t in (track_a, track_b) if t not in tracks.names]
    if unknown:
        raise ValidationError({"tracks": f"Unknown track(s) {unknown}; this analysis has "
                                         f"{', '.join(tracks.names)}."})
    if track_a == track_b:
        raise ValidationError({"tracks": "Swap two different tracks."})
    if not 0 <= frame < tracks.poses.shape[0]:
        last = tracks.poses.shape[0] - 1
        raise ValidationError({"frame": f"Frame {frame} is outside 0..{last}."})


def record_swap(video: Video, analysis_id: int, frame: int, track_a: str, track_b: str,
                user: AbstractBaseUser | None) -> TrackSwap:
    """Store a fix (after `check_swap`)."""
    with transaction.atomic():
        return TrackSwap.objects.create(project_id=video.project_id, video=video,
                                        analysis_id=analysis_id, frame=frame, track_a=track_a,
                                        track_b=track_b, created_by=user)

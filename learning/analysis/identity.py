"""Identity switches of multi-animal analyses against the animals people labeled by name.

For each video, the latest published multi-animal analysis (its tracks with every identity
fix applied) is compared with the video's labeled frames whose animals carry a track name:
frame by frame, in time order and on labeled frames only, each labeled animal is matched to
an analysis track (`learning.engine.multi.metrics.identity_switches`, Hungarian on mean
keypoint distance, gated at half the animal's bounding-box diagonal); a switch is a labeled
animal matched to another track than the last time. The rate is per 1,000 compared
(labeled) frames.

The figures depend on the analysis (and its fixes) and on the labels, so they are cached
under a key made of both (the manifest's publication time, the number of counted labels of
the video and their latest change): the dashboard reads the tracks file again only after
either changed.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max

from annotation.agreement import consensus_instances
from annotation.models import COUNTED_STATUSES, Label
from learning.analysis.multi import edited, stored_tracks, swaps_of
from learning.analysis.videos import Manifest, list_analyses
from learning.engine.multi.metrics import identity_switches
from projects.models import Project
from videos.models import Frame, Video

CACHE_SECONDS = 24 * 3600
NO_LABELED_TRACKS = "no labeled tracks"


class LabeledTracks(TypedDict):
    """A video's labeled animals that carry a track name, on its labeled frames in order.

    frame_indices: (L,) video frame numbers; keypoints: (L, G, K, 2) NaN where track g is
    not labeled on that frame; names: the G track names.
    """

    frame_indices: list[int]
    keypoints: np.ndarray
    names: list[str]


class VideoIdentity(TypedDict):
    video_id: int
    video: str
    analysis_id: int | None
    iteration: int | None
    tracks: list[str]
    labeled_tracks: list[str]
    switches: int | None
    labeled_frames: int
    per_1000_frames: float | None
    note: str


class IdentityReport(TypedDict):
    """Every video's figures and their sum; `note` says why there is none."""

    available: bool
    note: str
    switches: int | None
    labeled_frames: int
    per_1000_frames: float | None
    videos: list[VideoIdentity]


def labeled_tracks(project: Project, video: Video) -> LabeledTracks:
    """The video's labeled frames (time order) whose animals carry a track name.

    Untracked animals are left out, and so are frames with none tracked. Named individuals
    come in the project's order, other names in order of first appearance.
    """
    frames = dict(Frame.objects.filter(video=video, frame_index__isnull=False)
                  .values_list("pk", "frame_index"))
    ids, keypoints, _, tracks = consensus_instances(project, sorted(frames, key=frames.get))
    names = [n for n in project.individuals or [] if any(n in t for t in tracks)]
    for frame_tracks in tracks:
        names += [t for t in frame_tracks if t and t not in names]
    slot = {name: g for g, name in enumerate(names)}
    rows = [i for i, frame_tracks in enumerate(tracks) if any(frame_tracks)]
    out = np.full((len(rows), len(names), keypoints.shape[2], 2), np.nan)
    for r, i in enumerate(rows):
        for j, track in enumerate(tracks[i]):
            if track:
                out[r, slot[track]] = keypoints[i, j]
    return {"frame_indices": [int(frames[ids[i]]) for i in rows], "keypoints": out,
            "names": names}


def latest_multi_analysis(video: Video) -> Manifest | None:
    """The video's newest published analysis that tracked several animals, or None."""
    return next((m for m in list_analyses(video) if m.get("individuals")), None)


def _rate(switches: int, frames: int) -> float | None:
    return round(1000.0 * switches / frames, 3) if frames else None


def _figures(project: Project, video: Video, manifest: Manifest) -> VideoIdentity:
    labeled = labeled_tracks(project, video)
    base: VideoIdentity = {
        "video_id": video.pk, "video": video.name, "analysis_id": manifest["job_id"],
        "iteration": manifest.get("iteration"), "tracks": list(manifest["individuals"]),
        "labeled_tracks": labeled["names"], "switches": None, "labeled_frames": 0,
        "per_1000_frames": None, "note": NO_LABELED_TRACKS,
    }
    if not labeled["frame_indices"]:
        return base
    tracks = edited(stored_tracks(manifest["folder"]), swaps_of(video, manifest["job_id"]))
    inside = [r for r, f in enumerate(labeled["frame_indices"]) if f < tracks.poses.shape[0]]
    if not inside:
        return {**base, "note": "the labeled frames lie past the analysed frames"}
    pred = tracks.poses[[labeled["frame_indices"][r] for r in inside], :, :, :2]
    found = identity_switches(pred, labeled["keypoints"][inside])
    return {**base, "switches": found.count, "labeled_frames": found.n_frames,
            "per_1000_frames": _rate(found.count, found.n_frames), "note": ""}


def _cache_key(video: Video, manifest: Manifest) -> str:
    labels = Label.objects.filter(frame__video=video, status__in=COUNTED_STATUSES).aggregate(
        n=Count("id"), changed=Max("updated_at"))
    changed = labels["changed"].isoformat() if labels["changed"] else "-"
    return (f"poseloop:idsw:{video.pk}:{manifest['job_id']}:{manifest['created_at']}:"
            f"{labels['n']}:{changed}")


def video_identity(project: Project, video: Video) -> VideoIdentity | None:
    """The identity switches of the video's latest multi-animal analysis (cached), or None
    when it has no such analysis."""
    manifest = latest_multi_analysis(video)
    if manifest is None:
        return None
    key = _cache_key(video, manifest)
    found = cache.get(key)
    if found is None:
        found = _figures(project, video, manifest)
        cache.set(key, found, CACHE_SECONDS)
    return found


def identity_report(project: Project) -> IdentityReport:
    """Identity switches per video and over the project (summed switches and frames)."""
    videos = [v for v in (video_identity(project, video) for video in
                          project.videos.filter(deleted_at__isnull=True).order_by("id"))
              if v is not None]
    counted = [v for v in videos if v["switches"] is not None]
    switches = sum(v["switches"] or 0 for v in counted)
    frames = sum(v["labeled_frames"] for v in counted)
    if not videos:
        note = "No multi-animal analysis yet: analyse a video to count identity switches."
    elif not counted:
        note = (f"{NO_LABELED_TRACKS.capitalize()}: label animals with track names on frames "
                "of an analysed video to count identity switches.")
    else:
        note = ""
    return {
        "available": bool(counted), "note": note,
        "switches": switches if counted else None, "labeled_frames": frames,
        "per_1000_frames": _rate(switches, frames) if counted else None, "videos": videos,
    }

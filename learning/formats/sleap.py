"""SLEAP ``.slp`` labels through sleap-io.

`write_slp` / `read_slp` exchange labeled images (LabeledFrames): images are grouped into
one image-sequence video per folder (``labeled-data/<video>/``), a frame's index is its
position in that folder's list, and only user (not predicted) instances are read. SLEAP has
no "occluded" flag, so visibility is not kept: a point is present or NaN.

`read_slp_instances` reads everything a multi-animal file holds (user and predicted
instances, scores, tracks, movie or image videos found on this machine), and
`write_slp_predictions` writes tracked predictions on a movie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import sleap_io as sio

from .errors import FormatError
from .pose import LabeledFrames, check_names, check_skeleton


def write_slp(
    path: str | Path, frames: LabeledFrames, image_root: str | Path | None = None
) -> Path:
    """Write ``frames`` as SLEAP labels (no embedded images).

    With ``image_root``, the .slp names images as ``image_root / relative path`` so SLEAP
    can open them; :func:`read_slp` with the same root gives the relative paths back.
    Named individuals (``frames.individuals``) become SLEAP tracks, one per individual.
    """
    skeleton = sio.Skeleton(list(frames.bodyparts), edges=[list(e) for e in frames.skeleton])
    tracks = None if frames.individuals is None else \
        [sio.Track(name=name) for name in frames.individuals]
    folders: dict[str, list[int]] = {}
    for i, rel in enumerate(frames.image_paths):
        folders.setdefault(str(PurePosixPath(rel).parent), []).append(i)
    root = None if image_root is None else Path(image_root)
    labeled: list[sio.LabeledFrame] = []
    videos: list[sio.Video] = []
    for rows in folders.values():
        names = [
            frames.image_paths[i] if root is None else str(root / frames.image_paths[i])
            for i in rows
        ]
        # Not opened: the images need not be here. The metadata is what sleap-io writes
        # for an image sequence, so SLEAP opens it as one when the images are there.
        meta = {"type": "ImageVideo", "filename": names[0], "filenames": names, "grayscale": False}
        video = sio.Video(filename=names, backend_metadata=meta, open_backend=False)
        videos.append(video)
        for frame_idx, i in enumerate(rows):
            instances = [
                sio.Instance.from_numpy(frames.keypoints[i, ind], skeleton=skeleton,
                                        track=None if tracks is None else tracks[ind])
                for ind in range(frames.n_individuals)
                if not np.isnan(frames.keypoints[i, ind]).all()
            ]
            labeled.append(sio.LabeledFrame(video=video, frame_idx=frame_idx, instances=instances))
    if tracks is None:
        labels = sio.Labels(labeled_frames=labeled, videos=videos, skeletons=[skeleton])
    else:
        labels = sio.Labels(labeled_frames=labeled, videos=videos, skeletons=[skeleton],
                            tracks=tracks)
    path = Path(path)
    sio.save_slp(labels, str(path), verbose=False)
    return path


def _relative(name: str, root: Path | None) -> str:
    if root is None:
        return name.replace("\\", "/")
    try:
        return Path(name).relative_to(root).as_posix()
    except ValueError:
        raise FormatError(f"image {name} is not under {root}") from None


def read_slp(path: str | Path, image_root: str | Path | None = None) -> LabeledFrames:
    """Read SLEAP labels written from image sequences into LabeledFrames.

    keypoints: float64 (frames, individuals, keypoints, 2). When every user instance has a
    track, individuals = the file's tracks (named in ``individuals``, in file order); else
    the most user instances on one frame, in instance order. Videos must be image lists
    (not movie files).
    """
    path = Path(path)
    labels = load_labels(path)
    skeleton = labels.skeletons[0]
    root = None if image_root is None else Path(image_root)
    paths: list[str] = []
    users: list[list[sio.Instance]] = []
    for lf in labels.labeled_frames:
        names = lf.video.filename
        if not isinstance(names, list):
            raise FormatError("only image-sequence videos are supported, found a movie", path)
        paths.append(_relative(names[lf.frame_idx], root))
        users.append(list(lf.user_instances))
    found = [inst for frame in users for inst in frame]
    tracked = bool(found) and all(inst.track is not None for inst in found)
    track_slot = {id(track): j for j, track in enumerate(labels.tracks)} if tracked else {}
    if tracked and not all(id(inst.track) in track_slot for inst in found):
        tracked = False  # an instance's track missing from the file's list: slot by order
    n_ind = len(labels.tracks) if tracked else max([len(p) for p in users], default=1)
    kp = np.full((len(paths), n_ind, len(skeleton.node_names), 2), np.nan)
    for f, frame in enumerate(users):
        for j, inst in enumerate(frame):
            slot = track_slot[id(inst.track)] if tracked else j
            if tracked and not np.isnan(kp[f, slot]).all():
                raise FormatError(f"frame {paths[f]} has track {inst.track.name!r} twice", path)
            kp[f, slot] = inst.numpy()
    return LabeledFrames(
        image_paths=paths,
        bodyparts=list(skeleton.node_names),
        keypoints=kp,
        skeleton=_edges(skeleton),
        individuals=[str(t.name) for t in labels.tracks] if tracked else None,
    )


def load_labels(path: Path) -> sio.Labels:
    """The labels of a .slp file with exactly one skeleton; videos are not opened."""
    try:
        labels = sio.load_slp(str(path), open_videos=False)
    except Exception as exc:  # h5py and sleap-io raise many types for a broken file
        raise FormatError(f"not a readable SLEAP file ({type(exc).__name__}: {exc})", path) from exc
    if len(labels.skeletons) != 1:
        raise FormatError(f"expected one skeleton, found {len(labels.skeletons)}", path)
    return labels


def _edges(skeleton: sio.Skeleton) -> list[tuple[str, str]]:
    return [(e.source.name, e.destination.name) for e in skeleton.edges]


# --- multi-animal: every instance, tracks, scores ------------------------------------------


@dataclass(frozen=True)
class SlpInstance:
    """One animal on one frame.

    points: float64 (keypoints, 2), NaN where the node is absent or marked not visible.
    point_scores: float64 (keypoints,) of a predicted instance, NaN where the point is
        absent; None for a user instance.
    score: a predicted instance's score (SLEAP's, not bounded to [0, 1]); None for a user one.
    track: the track's name, "" when the instance has no track.
    predicted: True for a model's prediction, False for a user (human) label.
    """

    points: np.ndarray
    point_scores: np.ndarray | None
    score: float | None
    track: str
    predicted: bool


@dataclass(frozen=True)
class SlpFrame:
    """The instances of one labeled frame: frame ``frame_idx`` of ``videos[video_index]``."""

    video_index: int
    frame_idx: int
    instances: list[SlpInstance]


@dataclass(frozen=True)
class SlpContents:
    """What a (multi-animal) .slp file holds, videos resolved on this machine.

    videos: per video, a movie's path, or an image sequence's list of image paths.
    frames: the labeled frames in file order.
    """

    bodyparts: list[str]
    skeleton: list[tuple[str, str]]
    tracks: list[str]
    videos: list[str | list[str]]
    frames: list[SlpFrame]

    def instances_array(self, frame: SlpFrame, predicted: bool | None = None) -> np.ndarray:
        """``frame``'s instances as the engine takes them: float64 (n, keypoints, 3) holding
        x, y and a confidence (the point score; 1 for user instances), all NaN where a point
        is absent. ``predicted`` True or False keeps only predicted or only user instances.
        """
        rows = [i for i in frame.instances if predicted is None or i.predicted == predicted]
        out = np.full((len(rows), len(self.bodyparts), 3), np.nan)
        for n, inst in enumerate(rows):
            present = ~np.isnan(inst.points[:, 0])
            out[n, :, :2] = inst.points
            scores = inst.point_scores if inst.point_scores is not None else 1.0
            out[n, :, 2] = np.where(present, scores, np.nan)
        return out


def read_slp_instances(
    path: str | Path, video_dir: str | Path | None = None, require_videos: bool = True
) -> SlpContents:
    """Read every user and predicted instance of a .slp file, with tracks and scores.

    A video's stored path is often another machine's: it is looked for by file name in
    ``video_dir`` or, without it, at the stored path and beside the .slp. A video (or image)
    found nowhere is a FormatError naming what was looked for, unless ``require_videos`` is
    False, which keeps the stored path.
    """
    path = Path(path)
    labels = load_labels(path)
    skeleton = labels.skeletons[0]
    root = None if video_dir is None else Path(video_dir)
    videos: list[str | list[str]] = []
    for video in labels.videos:
        if isinstance(video.filename, list):
            videos.append([_find(name, path, root, require_videos) for name in video.filename])
        else:
            videos.append(_find(video.filename, path, root, require_videos))
    index = {id(video): i for i, video in enumerate(labels.videos)}
    frames = [
        SlpFrame(index[id(lf.video)], int(lf.frame_idx), [_instance(i) for i in lf.instances])
        for lf in labels.labeled_frames
    ]
    return SlpContents(
        bodyparts=list(skeleton.node_names),
        skeleton=_edges(skeleton),
        tracks=[track.name for track in labels.tracks],
        videos=videos,
        frames=frames,
    )


def _instance(inst: sio.Instance | sio.PredictedInstance) -> SlpInstance:
    track = "" if inst.track is None else str(inst.track.name)
    if isinstance(inst, sio.PredictedInstance):
        data = np.asarray(inst.numpy(scores=True), dtype=np.float64)
        points = data[:, :2].copy()
        scores = np.where(np.isnan(points[:, 0]), np.nan, data[:, 2])
        return SlpInstance(points, scores, float(inst.score), track, predicted=True)
    points = np.asarray(inst.numpy(), dtype=np.float64).copy()
    return SlpInstance(points, None, None, track, predicted=False)


def _find(stored: str, slp: Path, video_dir: Path | None, required: bool) -> str:
    """The path on this machine of a video or image stored as ``stored`` in ``slp``."""
    windows = PureWindowsPath(stored)  # splits on / and \ alike, knows drive letters
    local = Path(stored.replace("\\", "/"))
    base = slp.parent if video_dir is None else video_dir
    candidates: list[Path] = []
    if local.is_absolute() or windows.drive:
        if video_dir is None:
            candidates.append(local)
    else:
        candidates.append(base / local)
    name = windows.name
    candidates.append(base / name)
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            return str(candidate.resolve())
    if not required:
        return stored
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    where = f"in {video_dir}" if video_dir is not None else "at its stored path or beside the .slp"
    raise FormatError(
        f"video file {name!r} (stored as {stored!r}) not found {where}; looked for {looked}"
        + ("" if video_dir is not None else "; pass the folder holding it as video_dir"),
        slp,
    )


def write_slp_predictions(
    path: str | Path,
    video_path: str | Path,
    bodyparts: Sequence[str],
    skeleton: Sequence[Sequence[str]],
    poses: np.ndarray,
    track_names: Sequence[str],
    frame_indices: Sequence[int] | None = None,
) -> Path:
    """Write tracked poses on one movie as SLEAP predicted instances, one track per animal.

    poses: float64 (frames, tracks, keypoints, 3) holding x, y and the point score, NaN x, y
    where a point is absent; a track with no point on a frame gets no instance there. The
    instance score is the mean score of its present points. ``frame_indices`` (default
    0..frames-1) are the movie frames the rows belong to.
    """
    parts = check_names(bodyparts, "body parts")
    edges = check_skeleton(skeleton, parts)
    names = check_names(track_names, "track names")
    data = np.asarray(poses, dtype=np.float64)
    if data.ndim != 4 or data.shape[1:] != (len(names), len(parts), 3):
        raise FormatError(
            f"poses must be shaped (frames, {len(names)}, {len(parts)}, 3), got {data.shape}"
        )
    if np.isinf(data).any():
        raise FormatError("poses contain infinite values")
    rows = list(range(len(data))) if frame_indices is None else [int(i) for i in frame_indices]
    if len(rows) != len(data) or len(set(rows)) != len(rows) or min(rows, default=0) < 0:
        raise FormatError("frame_indices must be one distinct, non-negative index per frame")
    sk = sio.Skeleton(parts, edges=[list(e) for e in edges])
    tracks = [sio.Track(name=n) for n in names]
    filename = str(video_path)
    meta = {"type": "MediaVideo", "filename": filename, "grayscale": False, "bgr": True,
            "dataset": "", "input_format": ""}  # fmt: skip
    video = sio.Video(filename=filename, backend_metadata=meta, open_backend=False)
    labeled = []
    for f, frame_idx in enumerate(rows):
        instances = []
        for t, track in enumerate(tracks):
            xy = data[f, t, :, :2]
            present = ~np.isnan(xy).any(axis=1)
            if not present.any():
                continue
            scores = np.where(present, np.nan_to_num(data[f, t, :, 2]), 0.0)
            instances.append(
                sio.PredictedInstance.from_numpy(
                    np.where(present[:, None], xy, np.nan),
                    skeleton=sk,
                    point_scores=scores,
                    score=float(scores[present].mean()),
                    track=track,
                )
            )
        labeled.append(sio.LabeledFrame(video=video, frame_idx=frame_idx, instances=instances))
    labels = sio.Labels(labeled_frames=labeled, videos=[video], skeletons=[sk], tracks=tracks)
    path = Path(path)
    sio.save_slp(labels, str(path), verbose=False)
    return path

"""SLEAP ``.slp`` labels through sleap-io.

Images are grouped into one image-sequence video per folder (``labeled-data/<video>/``);
a frame's index is its position in that folder's list. SLEAP has no "occluded" flag, so
visibility is not kept: a point is present or NaN. Only user (not predicted) instances are
read.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np
import sleap_io as sio

from .errors import FormatError
from .pose import LabeledFrames


def write_slp(
    path: str | Path, frames: LabeledFrames, image_root: str | Path | None = None
) -> Path:
    """Write ``frames`` as SLEAP labels (no embedded images).

    With ``image_root``, the .slp names images as ``image_root / relative path`` so SLEAP
    can open them; :func:`read_slp` with the same root gives the relative paths back.
    """
    skeleton = sio.Skeleton(list(frames.bodyparts), edges=[list(e) for e in frames.skeleton])
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
                sio.Instance.from_numpy(frames.keypoints[i, ind], skeleton=skeleton)
                for ind in range(frames.n_individuals)
                if not np.isnan(frames.keypoints[i, ind]).all()
            ]
            labeled.append(sio.LabeledFrame(video=video, frame_idx=frame_idx, instances=instances))
    labels = sio.Labels(labeled_frames=labeled, videos=videos, skeletons=[skeleton])
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

    keypoints: float64 (frames, individuals, keypoints, 2), individuals = the most user
    instances on one frame. Videos must be image lists (not movie files).
    """
    path = Path(path)
    try:
        labels = sio.load_slp(str(path), open_videos=False)
    except Exception as exc:  # h5py and sleap-io raise many types for a broken file
        raise FormatError(f"not a readable SLEAP file ({type(exc).__name__}: {exc})", path) from exc
    if len(labels.skeletons) != 1:
        raise FormatError(f"expected one skeleton, found {len(labels.skeletons)}", path)
    skeleton = labels.skeletons[0]
    root = None if image_root is None else Path(image_root)
    paths: list[str] = []
    poses: list[list[np.ndarray]] = []
    for lf in labels.labeled_frames:
        names = lf.video.filename
        if not isinstance(names, list):
            raise FormatError("only image-sequence videos are supported, found a movie", path)
        paths.append(_relative(names[lf.frame_idx], root))
        poses.append([inst.numpy() for inst in lf.user_instances])
    n_ind = max([len(p) for p in poses], default=1)
    kp = np.full((len(paths), n_ind, len(skeleton.node_names), 2), np.nan)
    for f, found in enumerate(poses):
        for j, xy in enumerate(found):
            kp[f, j] = xy
    return LabeledFrames(
        image_paths=paths,
        bodyparts=list(skeleton.node_names),
        keypoints=kp,
        skeleton=[(a.name, b.name) for a, b in ((e.source, e.destination) for e in skeleton.edges)],
    )

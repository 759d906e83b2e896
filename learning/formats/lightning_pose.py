"""Lightning Pose label folders: ``CollectedData.csv`` beside ``labeled-data/``, no config.

Lightning Pose keeps its labels in DeepLabCut's CSV layout (scorer / bodyparts / coords
header rows, one row per image, indexed by the image's path relative to the folder, e.g.
``labeled-data/<video>/img0001.png``) but has no DeepLabCut ``config.yaml``, so
:func:`~learning.formats.dlc.read_dlc_project` refuses such folders.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

from .collected_data import read_collected_data
from .dlc import image_size
from .errors import FormatError
from .pose import LabeledFrames

LABELS_FILE = "CollectedData.csv"


def read_lightning_pose(folder: str | Path) -> LabeledFrames:
    """Read a Lightning Pose label folder into LabeledFrames.

    Body parts and scorer come from the CSV header; ``image_paths`` are the CSV's paths
    (relative to ``folder``) and ``image_sizes`` are read from the images, which must all
    exist inside the folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FormatError("not a folder", root)
    labels = root / LABELS_FILE
    if not labels.is_file():
        raise FormatError(f"no {LABELS_FILE} in the folder", root)
    frames = read_collected_data(labels)
    outside = [
        p
        for p in frames.image_paths
        if PurePosixPath(p).is_absolute() or ".." in PurePosixPath(p).parts or ":" in p
    ]
    if outside:
        raise FormatError(
            f"image paths must be relative to the folder, found {', '.join(outside[:3])}",
            labels,
        )
    missing = [p for p in frames.image_paths if not (root / p).is_file()]
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise FormatError(
            f"{len(missing)} labeled image(s) missing: {', '.join(missing[:10])}{more}", root
        )
    sizes = [image_size(root / p) for p in frames.image_paths]
    return dataclasses.replace(frames, image_sizes=sizes)

"""The bridge from a multi-animal project's labels to the engine: frames → MultiSample lists.

Each labeled frame gives every animal its annotator placed (annotation.agreement
.consensus_instances: the accepted label, else the latest submitted one). Train and test come
from the same fixed SplitAssignment rows as single-animal projects (datasets.assign_splits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.agreement import consensus_instances
from learning.engine.multi.samples import MultiSample
from learning.models import LabelSnapshot
from learning.training.datasets import local_image_path, split_fields
from projects.models import Project
from videos.models import Frame


@dataclass(frozen=True)
class MultiProjectDataset:
    """Samples of a multi-animal project in body-part order, split into train and test."""

    train: list[MultiSample]
    test: list[MultiSample]
    train_frame_ids: list[int]
    test_frame_ids: list[int]
    keypoint_names: list[str]
    flip_pairs: tuple[tuple[int, int], ...]
    snapshot: LabelSnapshot
    max_animals: int


def multi_samples_for_frames(project: Project, frame_ids: Sequence[int]
                             ) -> tuple[list[int], list[MultiSample]]:
    """(frame ids that have counted labels, their MultiSamples), in the order of `frame_ids`.

    Empty animal slots are dropped: a sample holds the animals the label placed (maybe none).
    """
    order, keypoints, visibility, _ = consensus_instances(project, list(frame_ids))
    frames = Frame.objects.in_bulk(order)
    samples = []
    for i, fid in enumerate(order):
        placed = visibility[i].any(axis=1)
        samples.append(MultiSample(local_image_path(frames[fid]),
                                   keypoints[i, placed].astype(np.float32),
                                   visibility[i, placed].astype(np.int8)))
    return list(order), samples


def build_multi_dataset(project: Project, *, test_frame_ids: Iterable[int] | None = None
                        ) -> MultiProjectDataset:
    """All labeled frames of a multi-animal project as train/test samples (see
    `datasets.build_dataset`: the same split rules)."""
    return MultiProjectDataset(**split_fields(project, multi_samples_for_frames, test_frame_ids),
                               max_animals=project.max_animals)

"""The one bridge from the database to the engine: labeled frames → PoseSample lists.

Keypoints are the annotators' consensus (annotation.agreement.consensus_keypoints); absent
points get visibility 0 (left out of the loss), occluded ones 1 (trained on), visible ones 2.
Train and test come from the project's fixed SplitAssignment rows.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q

from annotation.agreement import consensus_keypoints
from annotation.models import COUNTED_STATUSES, Label, LabelRevision
from learning.engine.data import PoseSample
from learning.models import LabelSnapshot, SplitAssignment, SplitName
from projects.models import Project
from videos.models import Frame

TEST_FRACTION = 0.1
MIN_FRAMES_FOR_TEST = 5


@dataclass(frozen=True)
class ProjectDataset:
    """Samples of a project in body-part order, split into train and test."""

    train: list[PoseSample]
    test: list[PoseSample]
    train_frame_ids: list[int]
    test_frame_ids: list[int]
    keypoint_names: list[str]
    flip_pairs: tuple[tuple[int, int], ...]
    snapshot: LabelSnapshot


def split_key(frame: Frame) -> str:
    """What names the frame on any server, whatever order its project was imported in.

    A video frame is its video's content hash and frame index; an imported image the path it
    was imported from (labeled-data/m4s1/img0001.png); only a frame with neither falls back to
    the project and frame ids. The same frames therefore get the same split in every database,
    and in every project of one database that holds them.
    """
    if frame.video_id is not None and frame.frame_index is not None and frame.video.sha256:
        return f"video:{frame.video.sha256}:{frame.frame_index}"
    if frame.external_path:
        return f"image:{frame.external_path}"
    return f"id:{frame.project_id}:{frame.pk}"


def split_hash(key: str) -> float:
    """A stable number in [0, 1) for a frame's split_key; below TEST_FRACTION means test."""
    digest = hashlib.blake2b(f"split:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def labeled_frame_ids(project: Project) -> list[int]:
    """Frames with at least one submitted or accepted label, by id."""
    return sorted(set(
        Label.objects.filter(project=project, status__in=COUNTED_STATUSES)
        .filter(Q(frame__video__isnull=True) | Q(frame__video__deleted_at__isnull=True))
        .values_list("frame_id", flat=True)
    ))


def assign_splits(project: Project, frame_ids: Iterable[int]) -> dict[int, str]:
    """Give each frame without one a fixed split, and return frame id → split for all of them.

    A new frame goes to test when the hash of its split_key is below TEST_FRACTION. Once the
    project has at least MIN_FRAMES_FOR_TEST assigned frames and none in test, the new frame
    with the lowest hash goes to test instead. Existing assignments are never changed.
    Atomic: rows are inserted with INSERT … ON CONFLICT DO NOTHING on the unique frame
    column, and re-read, so two concurrent calls agree on whichever assignment was written
    first.
    """
    ids = sorted(set(int(f) for f in frame_ids))
    with transaction.atomic():
        existing = dict(
            SplitAssignment.objects.filter(frame_id__in=ids).values_list("frame_id", "split")
        )
        new = [f for f in ids if f not in existing]
        if new:
            frames = Frame.objects.filter(pk__in=new, project=project).select_related("video")
            hashes = {f.pk: split_hash(split_key(f)) for f in frames}
            new = sorted(hashes)
            splits = {f: SplitName.TEST if h < TEST_FRACTION else SplitName.TRAIN
                      for f, h in hashes.items()}
            assigned = SplitAssignment.objects.filter(project=project)
            n_total = assigned.count() + len(new)
            has_test = SplitName.TEST in splits.values() or assigned.filter(
                split=SplitName.TEST).exists()
            if new and n_total >= MIN_FRAMES_FOR_TEST and not has_test:
                splits[min(new, key=hashes.__getitem__)] = SplitName.TEST
            SplitAssignment.objects.bulk_create(
                [SplitAssignment(project=project, frame_id=f, split=s) for f, s in splits.items()],
                ignore_conflicts=True,
            )
            existing = dict(
                SplitAssignment.objects.filter(frame_id__in=ids).values_list("frame_id", "split")
            )
    return existing


def flip_pairs(project: Project) -> tuple[tuple[int, int], ...]:
    """Left/right body-part pairs (BodyPart.mirror) as (i, j) keypoint indices, i < j."""
    parts = list(project.bodyparts.order_by("order", "id").values_list("pk", "mirror_id"))
    index = {pk: k for k, (pk, _) in enumerate(parts)}
    pairs = {tuple(sorted((index[pk], index[mirror]))) for pk, mirror in parts
             if mirror is not None and mirror in index}
    return tuple(sorted(pairs))  # type: ignore[arg-type]


def local_image_path(frame: Frame) -> str:
    """A local file path of the frame's image; remote storages are copied to a cache once."""
    try:
        return frame.image.path
    except NotImplementedError:
        pass
    cache = os.path.join(settings.VAR_DIR, "cache", "frames", str(frame.project_id))
    os.makedirs(cache, exist_ok=True)
    target = os.path.join(cache, f"{frame.pk}-{os.path.basename(frame.image.name)}")
    if not os.path.exists(target):
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
        with os.fdopen(fd, "wb") as out, frame.image.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, target)
    return target


def label_snapshot(project: Project, frame_ids: Sequence[int],
                   test_frame_ids: Sequence[int] = ()) -> LabelSnapshot:
    """The counted labels of these frames with their versions, and the newest revision id."""
    labels = Label.objects.filter(
        project=project, frame_id__in=list(frame_ids), status__in=COUNTED_STATUSES
    ).order_by("id")
    max_revision = LabelRevision.objects.filter(label__project=project).aggregate(m=Max("id"))["m"]
    return {
        "labels": [list(row) for row in labels.values_list("id", "frame_id", "version")],
        "frame_ids": sorted(int(f) for f in frame_ids),
        "test_frame_ids": sorted(int(f) for f in test_frame_ids),
        "max_revision_id": int(max_revision or 0),
    }


def samples_for_frames(project: Project, frame_ids: Sequence[int]) -> tuple[list[int],
                                                                            list[PoseSample]]:
    """(frame ids that have counted labels, their PoseSamples), in the order of `frame_ids`."""
    order, keypoints, visibility = consensus_keypoints(project, list(frame_ids))
    frames = Frame.objects.in_bulk(order)
    samples = [
        PoseSample(local_image_path(frames[fid]), keypoints[i].astype(np.float32),
                   visibility[i].astype(np.int8))
        for i, fid in enumerate(order)
    ]
    return list(order), samples


def held_out_frames(project: Project, frame_ids: Sequence[int],
                test_frame_ids: Iterable[int] | None = None) -> set[int]:
    """The test frames among `frame_ids`: the project's fixed split (assigned here for frames
    new to it), unless `test_frame_ids` names them (a benchmark's held-out list)."""
    if test_frame_ids is not None:
        return set(test_frame_ids)
    splits = assign_splits(project, frame_ids)
    return {f for f, s in splits.items() if s == SplitName.TEST}


def build_dataset(project: Project, *, test_frame_ids: Iterable[int] | None = None
                  ) -> ProjectDataset:
    """All labeled frames of the project as train/test samples.

    The split is the project's fixed one (assigned here for frames new to it), unless
    `test_frame_ids` names the test frames (a benchmark's held-out list).
    """
    return ProjectDataset(**split_fields(project, samples_for_frames, test_frame_ids))


def split_fields(project: Project,
                 samples_for: Callable[[Project, Sequence[int]], tuple[list[int], list[Any]]],
                 test_frame_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """The fields a dataset of the project's labeled frames has, whatever its samples are
    (`samples_for(project, frame ids)` → (frame ids with labels, their samples)): train and
    test by `held_out_frames`, body parts, left/right pairs and the label snapshot."""
    frame_ids = labeled_frame_ids(project)
    test_set = held_out_frames(project, frame_ids, test_frame_ids)
    order, samples = samples_for(project, frame_ids)
    pairs = list(zip(order, samples, strict=True))
    train = [(f, s) for f, s in pairs if f not in test_set]
    test = [(f, s) for f, s in pairs if f in test_set]
    return {
        "train": [s for _, s in train],
        "test": [s for _, s in test],
        "train_frame_ids": [f for f, _ in train],
        "test_frame_ids": [f for f, _ in test],
        "keypoint_names": project.bodypart_names(),
        "flip_pairs": flip_pairs(project),
        "snapshot": label_snapshot(project, order, [f for f, _ in test]),
    }

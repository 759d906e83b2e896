"""Importing SLEAP ``.slp`` labels with their videos into a (multi-animal) project.

A SLEAP file names frames of movie files by index: each video is added to the project (found
by file name in ``video_dir`` when the stored path is another machine's), the labeled frames
are extracted from it, and each frame gets one label (the import account's, accepted) whose
instances carry SLEAP's track names. User instances are labels; predicted instances are
imported only on request (``with_predictions``, e.g. a model's output used as pseudo-labels)
and only on frames without user instances, the highest-scoring first, at most the project's
animals per frame.

Re-running is safe: videos are matched by content (sha256), frames by (video, index), and a
label whose instances did not change is left alone. Unlike the DeepLabCut and COCO imports it
is not one transaction (frames are decoded from the movie one by one); a failed run leaves
frames and labels that a second run completes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Membership, Role
from annotation.labels import import_label, import_user
from annotation.models import Label
from learning.exchange.importing import guess_mirror_pairs
from learning.exchange.label_points import instances_from_arrays, points_from_arrays
from learning.formats.errors import FormatError
from learning.formats.pose import NOT_PRESENT, VISIBLE
from learning.formats.sleap import SlpContents, SlpInstance, read_slp_instances
from projects.models import MAX_ANIMALS, Project
from projects.skeleton import set_skeleton
from videos.extraction import frames_at
from videos.ingest import DuplicateVideo, add_video
from videos.models import Video

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class SlpImportSummary:
    """What one import run did."""

    project: Project
    project_created: bool
    videos: int
    frames: int
    labels_written: int
    labels_unchanged: int
    user_instances: int
    predicted_instances: int
    left_out_instances: int
    crowded_frames_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the command prints it as its last line)."""
        return {"project": self.project.pk, "project_name": self.project.name,
                "project_created": self.project_created, "max_animals":
                self.project.max_animals, "videos": self.videos, "frames": self.frames,
                "labels_written": self.labels_written, "labels_unchanged": self.labels_unchanged,
                "user_instances": self.user_instances,
                "predicted_instances": self.predicted_instances,
                "left_out_instances": self.left_out_instances,
                "crowded_frames_skipped": self.crowded_frames_skipped}


def chosen_instances(instances: list[SlpInstance], with_predictions: bool, limit: int
                     ) -> tuple[list[SlpInstance], int]:
    """(the instances a frame's label keeps, how many were left out): user instances, else
    (with_predictions) predicted ones by descending score; at most `limit`."""
    user = [i for i in instances if not i.predicted]
    pool = user if user or not with_predictions else sorted(
        (i for i in instances if i.predicted), key=lambda i: -(i.score or 0.0))
    considered = len(user) if user else (len(pool) if with_predictions else 0)
    return pool[:limit], max(0, considered - limit)


def _animals_per_frame(contents: SlpContents, with_predictions: bool) -> int:
    counts = [len(chosen_instances(f.instances, with_predictions, MAX_ANIMALS)[0])
              for f in contents.frames]
    return max(counts, default=0)


def _project(name: str, contents: SlpContents, max_animals: int,
             user: AbstractBaseUser | None) -> tuple[Project, bool]:
    project = Project.objects.filter(name=name.strip()).first()
    if project is not None:
        if project.deleted_at is not None:
            raise FormatError(f"project {project.name!r} was deleted")
        names = project.bodypart_names()
        if names != list(contents.bodyparts):
            raise FormatError(f"body parts do not match project {project.name!r}: "
                              f"{names} vs the file's {list(contents.bodyparts)}")
        if max_animals > project.max_animals:
            raise FormatError(f"the file has up to {max_animals} animals per frame; project "
                              f"{project.name!r} allows {project.max_animals}")
        return project, False
    with transaction.atomic():
        project = Project.objects.create(name=name.strip(), created_by=user,
                                         max_animals=max(1, max_animals))
        if user is not None:
            Membership.objects.create(user=user, project=project, role=Role.PI)
        set_skeleton(project, {
            "bodyparts": [{"name": n} for n in contents.bodyparts],
            "edges": [list(e) for e in contents.skeleton],
            "pairs": [list(p) for p in guess_mirror_pairs(contents.bodyparts)],
        })
    return project, True


def _video(project: Project, path: str | list[str], register: bool) -> Video:
    if isinstance(path, list):
        raise FormatError("this file labels an image sequence, not a movie: import its images "
                          "as a DeepLabCut or COCO dataset instead")
    try:
        return add_video(project, Path(path), name=Path(path).name, register=register)
    except DuplicateVideo as exc:
        return exc.existing
    except ValidationError as exc:
        raise FormatError(f"video {path}: {' '.join(exc.messages)}") from exc


def _label(project: Project, part_ids: list[int], instances: list[SlpInstance]) -> list:
    k = len(part_ids)
    kp = np.array([i.points for i in instances], dtype=np.float64).reshape(-1, k, 2)
    vis = np.where(np.isfinite(kp).all(axis=-1), VISIBLE, NOT_PRESENT)
    tracks = [i.track for i in instances]
    if project.multi_animal:
        # Two SLEAP instances of one frame may share no track or the same broken one: only
        # the first keeps it, so the label's tracks stay unique.
        seen: set[str] = set()
        unique = []
        for t in tracks:
            unique.append(t if t and t not in seen else "")
            seen.add(t)
        return instances_from_arrays(kp, vis, part_ids, unique)
    return points_from_arrays(kp[0], vis[0], part_ids) if len(kp) else []


def import_slp(path: str | Path, *, project_name: str, video_dir: str | Path | None = None,
               with_predictions: bool = False, max_animals: int | None = None,
               skip_crowded: bool = False, register: bool = False,
               user: AbstractBaseUser | None = None,
               progress: ProgressFn | None = None) -> SlpImportSummary:
    """Import a SLEAP file into the project called `project_name` (created when missing, with
    the file's skeleton and as many animals per frame as its frames hold, or `max_animals`).

    `skip_crowded` leaves out frames with more instances than the project's animals (with
    predictions as pseudo-labels: frames with false detections) instead of keeping the
    best-scored ones. `register` keeps the videos where they are (server paths) instead of
    copying them. Raises
    FormatError (nothing written) when the file, its videos or the project do not fit.
    """
    report = progress or (lambda fraction, message: None)
    contents = read_slp_instances(path, video_dir=video_dir)
    per_frame = _animals_per_frame(contents, with_predictions)
    if per_frame == 0:
        raise FormatError("no instances to import (predicted instances need with_predictions)")
    limit = min(max_animals or per_frame, MAX_ANIMALS)
    project, created = _project(project_name, contents, limit, user)
    videos = [_video(project, p, register) for p in contents.videos]
    part_ids = list(project.bodyparts.order_by("order", "id").values_list("pk", flat=True))
    owner = import_user()
    previous = dict(Label.objects.filter(project=project, annotator=owner)
                    .values_list("frame_id", "points"))
    wanted: dict[int, list[int]] = {}
    for f in contents.frames:
        wanted.setdefault(f.video_index, []).append(f.frame_idx)
    frames = {}
    for v, indices in wanted.items():
        report(0.05, f"extracting {len(indices)} frame(s) of {videos[v].name}")
        try:
            frames[v] = frames_at(videos[v], indices)
        except ValueError as exc:
            raise FormatError(str(exc)) from exc
    written = unchanged = users = predicted = left_out = crowded = 0
    for n, f in enumerate(contents.frames):
        kept, dropped = chosen_instances(f.instances, with_predictions, project.max_animals)
        left_out += dropped
        if skip_crowded and dropped:
            crowded += 1
            continue
        if not kept:
            continue
        users += sum(not i.predicted for i in kept)
        predicted += sum(i.predicted for i in kept)
        frame = frames[f.video_index][f.frame_idx]
        points = _label(project, part_ids, kept)
        if previous.get(frame.pk) == points:
            unchanged += 1
            continue
        try:
            import_label(project, frame, points)
        except ValidationError as exc:
            raise FormatError(f"frame {f.frame_idx}: {' '.join(exc.messages)}") from exc
        written += 1
        if n % 50 == 0:
            report(0.1 + 0.9 * n / len(contents.frames), f"labeled {n + 1} frame(s)")
    report(1.0, "done")
    return SlpImportSummary(project, created, len(videos), sum(map(len, frames.values())),
                            written, unchanged, users, predicted, left_out, crowded)

"""Rigs and their calibrations: create, calibrate from board recordings, import, export.

Calibration runs in a worker (`cameras.tasks.calibrate_rig_task`, a "calibrate" job): the
board recordings are stored first, the job computes the calibration with
`learning.geometry.session.calibrate_files` and stores calibration.toml plus one diagnostic
image per camera. A calibration that fails (board seen too rarely, a camera linked to no
other, errors too high) is kept as "failed" with the geometry code's message.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from cameras.models import Calibration, CalibrationSource, CalibrationStatus, Rig
from cameras.storage import local_copies, save_file, write_upload
from jobs.dispatch import dispatch_on_commit
from jobs.models import Job, JobKind
from jobs.progress import create_job, report
from learning.geometry.board import Board, BoardError, board_from_dict, load_board
from learning.geometry.calibration import CalibrationError
from learning.geometry.calibration_toml import (
    CalibrationFileError,
    cameras_from_dict,
    load_calibration_toml,
    save_calibration_toml,
)
from learning.geometry.camera import Camera
from learning.geometry.session import calibrate_files
from projects.models import Project

CAMERA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"}


def parse_board(board: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """A board as stored on a rig (Board's fields) from a dict or board.toml text; {} for none."""
    if board in (None, "", {}):
        return {}
    try:
        parsed: Board = load_board(board) if isinstance(board, str) else board_from_dict(
            dict(board))
    except BoardError as exc:
        raise ValidationError(f"Board: {exc}") from exc
    return dataclasses.asdict(parsed)


def create_rig(project: Project, name: str, cameras: list[str],
               board: Mapping[str, Any] | str | None = None, user: Any = None) -> Rig:
    """A new rig; camera names must be unique, two or more, letters/digits/._- only."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("A rig needs a name.")
    names = [str(c).strip() for c in cameras or []]
    if len(names) < 2:
        raise ValidationError("A rig needs at least two cameras.")
    bad = [n for n in names if not CAMERA_NAME.fullmatch(n)]
    if bad:
        raise ValidationError(f"Camera names may hold letters, digits, '.', '_' and '-' only "
                              f"(not {', '.join(repr(b) for b in bad)}).")
    if len(set(names)) != len(names):
        raise ValidationError("Camera names must be unique.")
    stored_board = parse_board(board)
    try:
        with transaction.atomic():
            return Rig.objects.create(project=project, name=name, cameras=names,
                                      board=stored_board, created_by=user)
    except IntegrityError:
        raise ValidationError(f"The project already has a rig named {name!r}.") from None


def camera_dicts(cameras: list[Camera]) -> list[dict[str, Any]]:
    """Cameras as stored on a Calibration (anipose calibration.toml's field names)."""
    return [{"name": c.name, "size": list(c.size), "matrix": c.matrix.tolist(),
             "distortions": c.dist.tolist(), "rotation": c.rvec.tolist(),
             "translation": c.tvec.tolist()} for c in cameras]


def calibration_cameras(calibration: Calibration) -> list[Camera]:
    """The geometry code's cameras of a ready calibration."""
    return cameras_from_dict({f"cam_{i}": c for i, c in enumerate(calibration.cameras)},
                             f"calibration {calibration.pk}")


def calibration_toml(calibration: Calibration) -> bytes:
    """The calibration as anipose's calibration.toml."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_calibration_toml(calibration_cameras(calibration),
                                     Path(tmp) / "calibration.toml",
                                     {"adjusted": calibration.source == CalibrationSource.BOARD,
                                      "poseloop_calibration": calibration.pk})
        return path.read_bytes()


def start_calibration(rig: Rig, videos: Mapping[str, UploadedFile], *,
                      offsets: Mapping[str, int] | None = None, user: Any = None
                      ) -> tuple[Calibration, Job]:
    """Store one board recording per camera and queue the calibration job.

    Every camera of the rig needs a recording; nothing is stored when one is missing or
    not a video file, or when the rig has no board.
    """
    if not rig.board:
        raise ValidationError("Set the rig's calibration board (board.toml) first.")
    missing = [c for c in rig.cameras if c not in videos]
    extra = [c for c in videos if c not in rig.cameras]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no board recording for {', '.join(missing)}")
        if extra:
            parts.append(f"{', '.join(extra)} not a camera of the rig ({', '.join(rig.cameras)})")
        raise ValidationError("Calibration: " + "; ".join(parts) + ".")
    for camera, upload in videos.items():
        if Path(upload.name or "").suffix.lower() not in VIDEO_SUFFIXES:
            raise ValidationError(f"{camera}: {upload.name!r} is not a video file "
                                  f"({', '.join(sorted(VIDEO_SUFFIXES))}).")
    offsets = {c: int(v) for c, v in (offsets or {}).items() if c in rig.cameras and int(v)}
    with transaction.atomic():
        calibration = Calibration.objects.create(
            rig=rig, source=CalibrationSource.BOARD, board=rig.board, created_by=user)
        inputs = {}
        for camera, upload in videos.items():
            suffix = Path(upload.name).suffix.lower()
            inputs[camera] = default_storage.save(
                f"{calibration.folder}/board-{camera}{suffix}", upload)
        job = create_job(rig.project_id, JobKind.CALIBRATE,
                         params={"calibration_id": calibration.pk, "rig_id": rig.pk,
                                 "offsets": offsets},
                         user_id=getattr(user, "pk", None))
        calibration.inputs = inputs
        calibration.job = job
        calibration.save(update_fields=["inputs", "job"])
        dispatch_on_commit(job)
    return calibration, job


def run_calibration(calibration_id: int, job_id: int | None = None) -> Calibration:
    """Compute a queued calibration (in the worker); failed with the reason if it cannot be."""
    calibration = Calibration.objects.select_related("rig").get(pk=calibration_id)
    Calibration.objects.filter(pk=calibration_id).update(status=CalibrationStatus.RUNNING)
    offsets = {}
    if job_id is not None:
        offsets = Job.objects.get(pk=job_id).params.get("offsets", {})

    def progress(fraction: float, message: str) -> None:
        if job_id is not None:
            report(job_id, fraction * 0.95, message)

    try:
        with local_copies(calibration.inputs) as videos, \
                tempfile.TemporaryDirectory() as tmp:
            board_toml = Path(tmp) / "board.toml"
            board_toml.write_text(_board_toml(calibration.board))
            result = calibrate_files(board_toml, videos, Path(tmp) / "calibration.toml",
                                     progress, offsets=offsets)
            files = {"toml": save_file(Path(result["calibration"]),
                                       f"{calibration.folder}/calibration.toml")}
            for camera, png in result["diagnostics"].items():
                files[camera] = save_file(Path(png), f"{calibration.folder}/corners-{camera}.png")
            cameras = load_calibration_toml(result["calibration"])
    except (CalibrationError, CalibrationFileError) as exc:
        Calibration.objects.filter(pk=calibration_id).update(
            status=CalibrationStatus.FAILED, message=str(exc)[:500])
        raise
    except Exception as exc:
        Calibration.objects.filter(pk=calibration_id).update(
            status=CalibrationStatus.FAILED, message=f"{type(exc).__name__}: {exc}"[:500])
        raise
    Calibration.objects.filter(pk=calibration_id).update(
        status=CalibrationStatus.READY, cameras=camera_dicts(cameras),
        reprojection_px=result["reprojection_px"], files=files, message="")
    calibration.refresh_from_db()
    return calibration


def _board_toml(board: Mapping[str, Any]) -> str:
    """Board fields (as stored) written as anipose's board.toml."""
    return "\n".join([
        f'board_type = "{board["board_type"]}"',
        f"board_size = [{int(board['board_size'][0])}, {int(board['board_size'][1])}]",
        f"board_square_side_length = {float(board['square_side_length'])!r}",
        f"board_marker_length = {float(board['marker_length'])!r}",
        f"board_marker_bits = {int(board['marker_bits'])}",
        f"board_marker_dict_number = {int(board['dict_size'])}",
    ]) + "\n"


def board_toml(rig: Rig) -> str:
    """The rig's board as board.toml text ('' when it has none)."""
    return _board_toml(rig.board) if rig.board else ""


def import_calibration(rig: Rig, upload: UploadedFile, user: Any = None) -> Calibration:
    """A ready calibration from an anipose calibration.toml whose cameras are the rig's."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_upload(upload, Path(tmp) / "calibration.toml")
        try:
            cameras = load_calibration_toml(path)
        except CalibrationFileError as exc:
            raise ValidationError(str(exc)) from exc
        names = [c.name for c in cameras]
        if sorted(names) != sorted(rig.cameras):
            raise ValidationError(f"The file's cameras ({', '.join(names)}) are not the rig's "
                                  f"({', '.join(rig.cameras)}).")
        order = {n: i for i, n in enumerate(rig.cameras)}
        cameras.sort(key=lambda c: order[c.name])
        with transaction.atomic():
            calibration = Calibration.objects.create(
                rig=rig, source=CalibrationSource.IMPORTED, status=CalibrationStatus.READY,
                board=rig.board, cameras=camera_dicts(cameras), created_by=user,
                message=f"Imported from {Path(upload.name or 'calibration.toml').name}")
            calibration.files = {"toml": save_file(path, f"{calibration.folder}/calibration.toml")}
            calibration.save(update_fields=["files"])
    return calibration

"""Adding videos to a project: validation, de-duplication, storage, no half-written state."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.text import get_valid_filename

from projects.models import Project
from videos.models import Video, video_upload_path
from videos.probe import VideoProbeError, probe_video, sha256_file
from videos.signals import video_added

logger = logging.getLogger(__name__)


class DuplicateVideo(ValidationError):
    """The project already has a video with the same content (sha256)."""

    def __init__(self, existing: Video) -> None:
        super().__init__(
            f"This video is already in the project as {existing.name!r} (id {existing.pk})."
        )
        self.existing = existing


def _base_name(name: str) -> str:
    """The last part of a path, Windows separators included ('C:\\v\\x.mp4' → 'x.mp4')."""
    base = Path(name.replace("\\", "/")).name
    return "" if base in {".", ".."} else base


def safe_name(name: str) -> str:
    """A file name without folders or odd characters ('../../x.mp4' → 'x.mp4')."""
    base = _base_name(name)
    cleaned = get_valid_filename(base) if base else ""
    return cleaned[:200] or "video.mp4"


def _existing(project: Project, sha: str) -> Video | None:
    return Video.objects.filter(project=project, sha256=sha).first()


def add_video(
    project: Project,
    path: Path,
    *,
    name: str,
    user: AbstractBaseUser | None = None,
    register: bool = False,
) -> Video:
    """Validate the file at `path` and add it to the project.

    With `register`, the video stays where it is (a server path) and only a row is written;
    otherwise it is copied into media storage. Either both the row and the file exist
    afterwards, or neither does. A concurrent upload of the same content loses on the
    (project, sha256) unique constraint and gets DuplicateVideo.
    """
    try:
        # Name the file as its owner knows it, never the temporary file an upload lives in.
        info = probe_video(path, name=_base_name(name)[:200] or safe_name(name))
    except VideoProbeError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    sha = sha256_file(path)
    if (existing := _existing(project, sha)) is not None:
        raise DuplicateVideo(existing)
    video = Video(
        project=project,
        name=safe_name(name),
        sha256=sha,
        size_bytes=path.stat().st_size,
        fps=info.fps,
        frame_count=info.frame_count,
        width=info.width,
        height=info.height,
        codec=info.codec,
        uploaded_by=user,
    )
    stored = ""
    if register:
        video.source_path = str(path.resolve())
    else:
        with path.open("rb") as fh:
            stored = default_storage.save(video_upload_path(video, video.name), File(fh))
        video.file.name = stored
    try:
        with transaction.atomic():
            video.save()
    except IntegrityError as exc:
        if stored:
            default_storage.delete(stored)
        if (existing := _existing(project, sha)) is not None:
            raise DuplicateVideo(existing) from exc
        raise
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise
    transaction.on_commit(lambda: video_added.send(sender=Video, project_id=project.pk,
                                                   video_id=video.pk))
    return video


def check_server_path(raw: str) -> Path:
    """Resolve a server path for registration; it must be an existing regular file, and lie
    inside one of POSELOOP_VIDEO_ROOTS when that is set (symlinks resolved first)."""
    path = Path(raw)
    if not path.is_absolute():
        raise ValidationError({"path": "Give an absolute path."})
    resolved = path.resolve()
    roots = [Path(r).resolve() for r in settings.VIDEO_ROOTS]
    if roots and not any(resolved.is_relative_to(r) for r in roots):
        raise ValidationError({"path": "The path is outside the allowed video folders."})
    if not resolved.is_file():
        raise ValidationError({"path": f"No such file: {raw}"})
    return resolved


def add_uploaded_file(
    project: Project, upload: UploadedFile, user: AbstractBaseUser | None = None
) -> Video:
    """Add an uploaded file: used in place when streamed to disk, else via a temporary copy."""
    if hasattr(upload, "temporary_file_path"):
        return add_video(
            project, Path(upload.temporary_file_path()), name=upload.name or "", user=user
        )
    with tempfile.NamedTemporaryFile(suffix=Path(upload.name or "").suffix) as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        return add_video(project, Path(tmp.name), name=upload.name or "", user=user)

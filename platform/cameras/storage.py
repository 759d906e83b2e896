"""Moving files between media storage and the local paths OpenCV and the geometry code need."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile


@contextmanager
def local_copies(names: Mapping[str, str]) -> Iterator[dict[str, Path]]:
    """Yield key → readable local path for storage names (copies only for remote storage)."""
    with tempfile.TemporaryDirectory(prefix="poseloop-3d-") as tmp:
        paths: dict[str, Path] = {}
        for key, name in names.items():
            try:
                paths[key] = Path(default_storage.path(name))
                continue
            except NotImplementedError:
                pass
            local = Path(tmp) / f"{key}{Path(name).suffix}"
            with default_storage.open(name, "rb") as src, local.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            paths[key] = local
        yield paths


def write_upload(upload: UploadedFile, path: Path) -> Path:
    """Write an uploaded file to a local path, chunk by chunk."""
    with path.open("wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    return path


def save_file(local: Path, name: str) -> str:
    """Store a local file under `name` (replacing an older one); returns the storage name."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with local.open("rb") as fh:
        return default_storage.save(name, File(fh))


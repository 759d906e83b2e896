"""Getting a local path for a stored video (OpenCV needs one, S3 storage has none)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videos.models import Video


@contextmanager
def local_video_path(video: Video) -> Iterator[Path]:
    """Yield a readable local path for the video; a temporary copy for remote storage."""
    if video.source_path:
        yield Path(video.source_path)
        return
    try:
        yield Path(video.file.path)
        return
    except NotImplementedError:
        pass
    suffix = Path(video.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with video.file.open("rb") as src:
            shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield Path(tmp.name)

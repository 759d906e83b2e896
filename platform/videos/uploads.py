"""An upload handler that streams to a temporary file and stops past the size limit."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest


def upload_limit_bytes() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Like Django's temporary-file handler, with `POSELOOP_MAX_UPLOAD_MB` enforced.

    When the limit is passed the temporary file is deleted, the upload is dropped and
    `request.upload_too_large` is set, which views turn into a 413.
    """

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > upload_limit_bytes():
            if self.request is not None:
                self.request.upload_too_large = True
            self.upload_interrupted()
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def over_upload_limit(request: HttpRequest) -> bool:
    """True if the body is over the limit: declared (checked before reading) or counted."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    # Multipart framing adds a little to the file's own size.
    return declared > upload_limit_bytes() + 1_000_000 or getattr(
        request, "upload_too_large", False
    )


def over_limit_message() -> str:
    return f"The file is over the {upload_limit_bytes() // 2**20} MB upload limit."

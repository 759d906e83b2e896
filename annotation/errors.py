"""Errors the annotation services raise; the API turns them into 409 answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotation.models import Label


class Conflict(Exception):
    """The request lost a race or no longer matches the stored state (HTTP 409).

    `current` carries the stored label when the conflict is about a label's version.
    """

    def __init__(self, detail: str, current: Label | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.current = current

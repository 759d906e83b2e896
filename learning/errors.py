"""Errors the learning services raise; the API turns Conflict into 409 answers."""

from __future__ import annotations


class Conflict(Exception):
    """The request does not fit the stored state (HTTP 409), e.g. a training is running."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

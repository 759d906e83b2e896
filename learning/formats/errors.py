"""The one error every format adapter raises for bad input."""

from __future__ import annotations

from pathlib import Path


class FormatError(ValueError):
    """A file or payload does not match the format it claims to be.

    The message is meant for people: it names the file (when there is one) and the
    problem, because the API turns it into an HTTP 400 as is.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(f"{Path(path).name}: {message}" if path is not None else message)


def existing_file(path: str | Path, *, allow_empty: bool = False) -> Path:
    """`path` as a Path; FormatError when it is not a file (or is empty, unless allowed)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    if not allow_empty and path.stat().st_size == 0:
        raise FormatError("file is empty", path)
    return path

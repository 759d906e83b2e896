"""Calibration boards (ChArUco, checkerboard) as anipose describes them, and finding their corners.

``load_board`` reads the board from TOML in either of the two layouts in use:

- sleap-anipose's ``board.toml``: ``board_x``, ``board_y`` (squares across and down),
  ``square_length``, ``marker_length``, ``marker_bits``, ``dict_size``
  (a ChArUco board unless ``board_type`` says otherwise);
- anipose's ``config.toml`` ``[calibration]`` section: ``board_type``, ``board_size``,
  ``board_square_side_length``, ``board_marker_length``, ``board_marker_bits``,
  ``board_marker_dict_number`` (the section or the whole file).

Corners are numbered like OpenCV numbers them (row by row of inner corners), so a corner id
indexes `object_points`. A checkerboard is found whole or not at all, and its orientation is
ambiguous under a half turn (calibration renumbers each camera's corners per frame so the
cameras agree); a ChArUco board, whose markers name every corner, is still the safer choice.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

BOARD_TYPES = ("charuco", "checkerboard")
ARUCO_DICTS = {  # (marker bits, dictionary size) -> OpenCV's predefined dictionary
    (bits, size): getattr(cv2.aruco, f"DICT_{bits}X{bits}_{size}")
    for bits in (4, 5, 6, 7)
    for size in (50, 100, 250, 1000)
}


class BoardError(ValueError):
    """A board description is missing a field or holds an impossible value."""


@dataclass(frozen=True)
class Board:
    """A calibration board.

    Attributes:
        board_type: "charuco" or "checkerboard".
        board_size: (columns, rows) of squares (anipose's ``board_size``).
        square_side_length: side of one square in world units (e.g. mm): the rig's unit.
        marker_length: ArUco marker side (ChArUco only), same unit.
        marker_bits: 4..7, bits per marker side (ChArUco only).
        dict_size: 50, 100, 250 or 1000 markers in the dictionary (ChArUco only).
    """

    board_type: str
    board_size: tuple[int, int]
    square_side_length: float
    marker_length: float = 0.0
    marker_bits: int = 4
    dict_size: int = 50

    def __post_init__(self) -> None:
        if self.board_type not in BOARD_TYPES:
            raise BoardError(f"board_type must be one of {BOARD_TYPES}, got {self.board_type!r}")
        cols, rows = self.board_size
        if cols < 3 or rows < 3:
            raise BoardError(f"a board needs at least 3 x 3 squares, got {cols} x {rows}")
        if self.square_side_length <= 0:
            raise BoardError("square_side_length must be positive")
        if self.board_type == "charuco":
            if not 0 < self.marker_length < self.square_side_length:
                raise BoardError("marker_length must be positive and smaller than the square")
            if (self.marker_bits, self.dict_size) not in ARUCO_DICTS:
                raise BoardError(
                    f"no ArUco dictionary of {self.marker_bits}x{self.marker_bits} bits with "
                    f"{self.dict_size} markers (bits 4-7; sizes 50, 100, 250, 1000)"
                )

    @property
    def n_corners(self) -> int:
        """Number of inner corners (the points calibration uses)."""
        return (self.board_size[0] - 1) * (self.board_size[1] - 1)


@dataclass
class Detection:
    """Board corners found in one image: ids (n,) int into `object_points`, corners_px (n, 2)."""

    ids: np.ndarray
    corners_px: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.size)


def load_board(path_or_text: str | Path) -> Board:
    """Read a board from a TOML file path or TOML text (layouts: see the module docstring)."""
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and "=" not in path_or_text
    ):
        path = Path(path_or_text)
        if not path.is_file():
            raise BoardError(f"board file not found: {path}")
        text = path.read_text(encoding="utf-8")
    else:
        text = path_or_text
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"board is not valid TOML ({exc})") from exc
    return board_from_dict(data.get("calibration", data))


def board_from_dict(data: dict) -> Board:
    """A board from a dict in sleap-anipose's or anipose's field names (or our own)."""
    def pick(*names: str, default: object = None) -> object:
        for name in names:
            if name in data:
                return data[name]
        if default is None:
            raise BoardError(f"board is missing {names[0]!r}")
        return default

    if "board_size" in data:
        size = data["board_size"]
        if not isinstance(size, list) or len(size) != 2:
            raise BoardError("board_size must be [columns, rows]")
    else:
        size = [pick("board_x"), pick("board_y")]
    board_type = str(pick("board_type", default="charuco")).lower()
    charuco = board_type == "charuco"
    try:
        return Board(
            board_type=board_type,
            board_size=(int(size[0]), int(size[1])),
            square_side_length=float(pick("board_square_side_length", "square_side_length",
                                          "square_length")),
            marker_length=float(pick("board_marker_length", "marker_length",
                                     default=None if charuco else 0.0)),
            marker_bits=int(pick("board_marker_bits", "marker_bits", default=4)),
            dict_size=int(pick("board_marker_dict_number", "dict_size", default=50)),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BoardError):
            raise
        raise BoardError(f"board has a value of the wrong type ({exc})") from exc


def object_points(board: Board) -> np.ndarray:
    """(n_corners, 3) float64 inner-corner positions on the board plane (z = 0), by corner id."""
    cols, rows = board.board_size
    ii, jj = np.meshgrid(np.arange(1, cols), np.arange(1, rows))
    pts = np.stack([ii.ravel(), jj.ravel(), np.zeros(ii.size)], axis=1)
    return pts * board.square_side_length


def charuco_board(board: Board) -> cv2.aruco.CharucoBoard:
    """The OpenCV ChArUco board object (its corner order equals `object_points`)."""
    dictionary = cv2.aruco.getPredefinedDictionary(ARUCO_DICTS[board.marker_bits,
                                                               board.dict_size])
    return cv2.aruco.CharucoBoard(tuple(board.board_size), board.square_side_length,
                                  board.marker_length, dictionary)


def detect_corners(board: Board, image: np.ndarray, *, detector: object | None = None
                   ) -> Detection:
    """Find the board's inner corners in a BGR or grayscale image (empty Detection if none).

    ``detector``: a ``cv2.aruco.CharucoDetector`` to reuse across frames (optional).
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if board.board_type == "charuco":
        det = detector or cv2.aruco.CharucoDetector(charuco_board(board))
        corners, ids, _, _ = det.detectBoard(gray)
        if ids is None or len(ids) == 0:
            return empty_detection()
        return Detection(ids.ravel().astype(np.int64), corners.reshape(-1, 2).astype(np.float64))
    pattern = (board.board_size[0] - 1, board.board_size[1] - 1)
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
    if not found:
        return empty_detection()
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)
    return Detection(np.arange(board.n_corners), corners.reshape(-1, 2).astype(np.float64))


def corner_detector(board: Board) -> object | None:
    """A reusable detector for `detect_corners` (None for checkerboards)."""
    if board.board_type != "charuco":
        return None
    return cv2.aruco.CharucoDetector(charuco_board(board))


def empty_detection() -> Detection:
    """A Detection with no corners."""
    return Detection(np.zeros(0, dtype=np.int64), np.zeros((0, 2)))


def board_image(board: Board, pixels_per_square: int = 80, margin: int = 0) -> np.ndarray:
    """A grayscale picture of the board (uint8), e.g. to print it or render synthetic views.

    Pixel (0, 0) is the board's outer corner; one square is ``pixels_per_square`` pixels.
    """
    cols, rows = board.board_size
    size = (cols * pixels_per_square + 2 * margin, rows * pixels_per_square + 2 * margin)
    if board.board_type == "charuco":
        return charuco_board(board).generateImage(size, marginSize=margin)
    img = np.full((size[1], size[0]), 255, np.uint8)
    for r in range(rows):
        for c in range(cols):
            if (r + c) % 2 == 0:
                y, x = margin + r * pixels_per_square, margin + c * pixels_per_square
                img[y:y + pixels_per_square, x:x + pixels_per_square] = 0
    return img

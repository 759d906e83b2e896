import cv2
import numpy as np
import pytest

from learning.geometry.board import (
    Board,
    BoardError,
    board_image,
    detect_corners,
    load_board,
    object_points,
)

SLEAP_ANIPOSE = """board_x = 8
board_y = 11
square_length = 24.0
marker_length = 18.75
marker_bits = 4
dict_size = 1000
"""

ANIPOSE = """[calibration]
board_type = "charuco"
board_size = [8, 11]
board_marker_bits = 4
board_marker_dict_number = 1000
board_marker_length = 18.75
board_square_side_length = 24.0
"""


def test_both_toml_layouts_read_the_same_board(tmp_path) -> None:
    path = tmp_path / "board.toml"
    path.write_text(SLEAP_ANIPOSE)
    expected = Board("charuco", (8, 11), 24.0, 18.75, 4, 1000)
    assert load_board(path) == expected
    assert load_board(str(path)) == expected
    assert load_board(ANIPOSE) == expected
    assert expected.n_corners == 70


@pytest.mark.parametrize(("text", "message"), [
    ("board_x = 8\nsquare_length = 24.0\nmarker_length = 18\n", "board_y"),
    ('board_type = "circles"\nboard_size = [8, 11]\nsquare_length = 2.0\n', "board_type"),
    (SLEAP_ANIPOSE.replace("dict_size = 1000", "dict_size = 333"), "dictionary"),
    (SLEAP_ANIPOSE.replace("18.75", "30.0"), "marker_length"),
    ("board_x = [", "not valid TOML"),
])
def test_bad_boards_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(BoardError, match=message):
        load_board(text)


def _warped(board: Board, pps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The board picture under a known homography, and that homography."""
    picture = board_image(board, pps)
    h = np.array([[0.9, 0.15, 80], [-0.1, 0.95, 60], [1e-4, 5e-5, 1]])
    return cv2.warpPerspective(picture, h, (900, 900), borderValue=128), h


@pytest.mark.parametrize("board_type", ["charuco", "checkerboard"])
def test_corners_are_found_where_the_geometry_puts_them(board_type: str) -> None:
    board = Board(board_type, (7, 9), 30.0, 22.0, 4, 50)
    image, h = _warped(board)
    det = detect_corners(board, image)
    assert len(det) == board.n_corners
    truth = object_points(board)[det.ids, :2] / 30.0 * 60 - 0.5  # pixel centres: integers
    truth = cv2.perspectiveTransform(truth.reshape(-1, 1, 2), h).reshape(-1, 2)
    assert np.abs(det.corners_px - truth).max() < 0.5


def test_no_board_no_corners() -> None:
    board = Board("charuco", (7, 9), 30.0, 22.0, 4, 50)
    assert len(detect_corners(board, np.full((200, 200, 3), 128, np.uint8))) == 0

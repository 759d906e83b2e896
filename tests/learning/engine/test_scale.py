from pathlib import Path

import numpy as np
import pytest

from learning.engine.data import PoseSample
from learning.engine.scale import DEFAULT_SCALE, choose_input_scale

from .conftest import draw_sample


def _frames(tmp_path: Path, spacing: float, size: tuple[int, int], n: int = 4
            ) -> list[PoseSample]:
    """n frames (images of `size` (H, W)) of two keypoints `spacing` px apart and a third
    100 px below them (the animal's extent)."""
    out = []
    for i in range(n):
        x0, y0 = size[1] / 3 + i, size[0] / 4
        kp = np.array([[x0, y0], [x0 + spacing, y0], [x0, y0 + 100]], np.float32)
        out.append(draw_sample(tmp_path / f"f{spacing}_{size[1]}_{i}.png", kp, size))
    return out


def test_close_keypoints_need_a_larger_scale(tmp_path) -> None:
    far = choose_input_scale(_frames(tmp_path, 40.0, (480, 640)))
    close = choose_input_scale(_frames(tmp_path, 6.0, (480, 640)))
    assert far.scale == 0.5 and close.scale == 1.0, (far, close)
    assert close.spacing_px == pytest.approx(6.0) and close.image_px == (640, 480)
    assert "6 px apart" in close.reason


def test_image_bounds(tmp_path) -> None:
    small = choose_input_scale(_frames(tmp_path, 30.0, (120, 160)))
    assert small.scale * 160 >= 256  # small frames are enlarged
    huge = choose_input_scale(_frames(tmp_path, 3.0, (1000, 1600)))
    assert huge.scale * 1600 <= 800 and "capped" in huge.reason


def test_no_labels_keep_the_default() -> None:
    assert choose_input_scale([]).scale == DEFAULT_SCALE


@pytest.mark.slow
def test_real_projects(shared_data) -> None:
    from learning.selection.oracle import load_oracle_data

    openfield = choose_input_scale(load_oracle_data(shared_data / "openfield").samples)
    assert openfield.scale == 0.5, openfield
    reaching = choose_input_scale(load_oracle_data(shared_data / "reaching").samples)
    # its keypoints are farther apart than openfield's; the 832 px frames set the floor
    assert reaching.scale == 0.33 and reaching.image_px == (832, 747), reaching

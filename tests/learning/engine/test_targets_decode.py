import numpy as np
import pytest
import torch

from learning.engine.decode import decode_heatmaps
from learning.engine.targets import cell_centers, make_targets

STRIDE, SIGMA, RADIUS, SCALE = 4, 6.0, 10.0, 8.0


def _targets(keypoints: torch.Tensor, weights: torch.Tensor):
    return make_targets(keypoints, weights, (16, 20), STRIDE, SIGMA, RADIUS, SCALE)


def _random_keypoints(n: int = 5, k: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, 2, generator=gen) * torch.tensor([70.0, 54.0]) + 5.0


def test_heatmap_peaks_at_the_cell_nearest_the_keypoint() -> None:
    kp = _random_keypoints()
    t = _targets(kp, torch.ones(kp.shape[:2]))
    h, w = t.heatmaps.shape[-2:]
    flat = t.heatmaps.reshape(*kp.shape[:2], -1).argmax(-1)
    nearest_x = (kp[..., 0, None] - cell_centers(w, STRIDE)).abs().argmin(-1)
    nearest_y = (kp[..., 1, None] - cell_centers(h, STRIDE)).abs().argmin(-1)
    assert torch.equal(flat % w, nearest_x)
    assert torch.equal(flat // w, nearest_y)


@pytest.mark.parametrize("refine", ["locref", "quadratic"])
def test_decoding_targets_recovers_keypoints_sub_pixel(refine: str) -> None:
    kp = _random_keypoints(seed=1)
    t = _targets(kp, torch.ones(kp.shape[:2]))
    xy, likelihood = decode_heatmaps(t.heatmaps, t.locref, STRIDE, SCALE, refine)
    assert (xy - kp).norm(dim=-1).max() < 0.5
    assert ((likelihood > 0.5) & (likelihood <= 1.0)).all()


def test_without_refinement_error_is_up_to_half_a_cell() -> None:
    kp = _random_keypoints(seed=2)
    t = _targets(kp, torch.ones(kp.shape[:2]))
    xy, _ = decode_heatmaps(t.heatmaps, t.locref, STRIDE, SCALE, "none")
    assert (xy - kp).abs().max() <= STRIDE / 2 + 1e-4


def test_not_present_keypoints_get_empty_targets() -> None:
    kp = _random_keypoints(n=2)
    weights = torch.ones(2, 3)
    weights[1, 2] = 0.0
    t = _targets(kp, weights)
    assert t.heatmaps[1, 2].abs().sum() == 0
    assert t.locref_mask[1, 2].sum() == 0
    assert t.heatmaps[0, 2].max() > 0.5


def test_decode_is_vectorized_over_batch_and_keypoints() -> None:
    heatmaps = torch.zeros(2, 3, 8, 8)
    heatmaps[0, 1, 2, 5] = 0.9
    xy, likelihood = decode_heatmaps(heatmaps, None, 4, SCALE, "none")
    assert xy.shape == (2, 3, 2) and likelihood.shape == (2, 3)
    np.testing.assert_allclose(xy[0, 1].numpy(), [5 * 4 + 1.5, 2 * 4 + 1.5])
    assert likelihood[0, 1] == pytest.approx(0.9)


def _peaks(shape: tuple[int, int], peaks: list[list[tuple[int, int, float]]]) -> torch.Tensor:
    """(1, K, h, w) maps, zero but for the given (row, col, value) cells of each keypoint."""
    maps = torch.zeros(1, len(peaks), *shape)
    for k, cells in enumerate(peaks):
        for row, col, value in cells:
            maps[0, k, row, col] = value
    return maps


def test_within_animal_ignores_a_far_off_false_peak() -> None:
    from learning.engine.decode import decode_heatmaps, within_animal

    stride = 4
    # Keypoints 0-2 sit around cell (5, 5); keypoint 2's map also has a stronger far-off peak.
    maps = _peaks((32, 32), [[(5, 5, 0.9)], [(6, 5, 0.8)], [(5, 7, 0.6), (28, 28, 0.7)]])
    plain, _ = decode_heatmaps(maps, None, stride, 8.0, "none")
    assert plain[0, 2].tolist() == [28 * 4 + 1.5, 28 * 4 + 1.5]  # the false peak wins
    xy, likelihood = within_animal(maps, None, stride, 8.0, radius_px=20.0, refine="none")
    assert xy[0, 2].tolist() == [7 * 4 + 1.5, 5 * 4 + 1.5]
    assert likelihood[0, 2].item() == pytest.approx(0.6)
    # Peaks already near the animal do not move.
    torch.testing.assert_close(xy[0, :2], plain[0, :2])


def test_animal_radius_covers_the_labeled_extent(tmp_path) -> None:
    from learning.engine.data import PoseSample, animal_radius

    kp = np.array([[10.0, 10.0], [30.0, 10.0], [20.0, 40.0]], dtype=np.float32)
    sample = PoseSample.from_keypoints(str(tmp_path / "x.png"), kp)
    spread = np.linalg.norm(kp - np.median(kp, axis=0), axis=1).max()
    assert animal_radius([sample], 0.5) == pytest.approx(1.5 * spread * 0.5)
    lonely = PoseSample.from_keypoints(str(tmp_path / "y.png"),
                                       np.array([[1.0, 1.0], [np.nan, np.nan]]))
    assert animal_radius([lonely], 1.0) == 0.0


def test_decode_applies_the_configs_animal_prior() -> None:
    from learning.engine.config import ModelConfig
    from learning.engine.decode import decode

    maps = _peaks((32, 32), [[(5, 5, 0.9)], [(6, 5, 0.8)], [(5, 7, 0.6), (28, 28, 0.7)]])
    plain = ModelConfig(num_keypoints=3, pretrained=None)
    prior = ModelConfig(num_keypoints=3, pretrained=None, animal_radius_px=20.0)
    assert decode(plain, maps, None, "none")[0][0, 2].tolist() == [28 * 4 + 1.5] * 2
    assert decode(prior, maps, None, "none")[0][0, 2].tolist() == [7 * 4 + 1.5, 5 * 4 + 1.5]
    # Configs stored before the field existed still load, without the prior.
    stored = plain.to_dict()
    del stored["animal_radius_px"]
    assert ModelConfig.from_dict(stored).animal_radius_px is None
    with pytest.raises(ValueError, match="animal_radius_px"):
        ModelConfig(num_keypoints=3, animal_radius_px=0.0)

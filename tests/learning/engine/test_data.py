import numpy as np
import pytest
import torch

from learning.engine.config import AugmentConfig
from learning.engine.data import PoseDataset, PoseSample, flip_horizontal, training_size

from .conftest import draw_sample

NO_GEOMETRY = dict(rotation_deg=0.0, scale_range=(1.0, 1.0), translate_frac=0.0, blur_p=0.0,
                   brightness=0.0, contrast=0.0)


def test_flip_swaps_left_and_right() -> None:
    image = torch.zeros(3, 10, 20, dtype=torch.uint8)
    keypoints = torch.tensor([[2.0, 3.0], [15.0, 4.0], [7.0, 5.0]])
    weights = torch.tensor([1.0, 0.0, 1.0])
    _, flipped, w = flip_horizontal(image, keypoints, weights, [(0, 1)])
    # Index 0 (left) now holds the mirrored right point and vice versa; index 2 is only mirrored.
    torch.testing.assert_close(flipped, torch.tensor([[4.0, 4.0], [17.0, 3.0], [12.0, 5.0]]))
    torch.testing.assert_close(w, torch.tensor([0.0, 1.0, 1.0]))


def test_dataset_flip_moves_image_and_swaps_points(tmp_path) -> None:
    kp = np.array([[20.0, 30.0], [60.0, 30.0]], dtype=np.float32)
    sample = draw_sample(tmp_path / "a.png", kp)
    aug = AugmentConfig(flip_p=1.0, flip_pairs=((0, 1),), **NO_GEOMETRY)
    item = PoseDataset([sample], 1.0, (64, 96), aug)[0]
    # Point 0 ("left") is now the mirror of point 1 about the 96-wide crop's centre, sitting on
    # point 1's (green) disc.
    torch.testing.assert_close(item["keypoints"][0], torch.tensor([95.0 - 60.0, 30.0]))
    x, y = item["keypoints"][0].round().long().tolist()
    assert item["image"][1, y, x] > 200 and item["image"][0, y, x] < 100


def test_augmented_keypoints_stay_on_their_discs(make_samples) -> None:
    samples = make_samples(6, k=3)
    aug = AugmentConfig(rotation_deg=40.0, scale_range=(0.7, 1.4), translate_frac=0.1,
                        brightness=0.0, contrast=0.0, blur_p=0.0)
    ds = PoseDataset(samples, 1.0, (64, 96), aug, seed=3)
    for i in range(len(ds)):
        item = ds[i]
        for k in range(3):
            if item["weights"][k] == 0:
                continue
            x, y = item["keypoints"][k].round().long().tolist()
            assert item["image"][k, y, x] > 150, (i, k)


def test_not_present_points_have_zero_weight(tmp_path) -> None:
    kp = np.array([[20.0, 30.0], [np.nan, np.nan], [50.0, 20.0]], dtype=np.float32)
    sample = draw_sample(tmp_path / "a.png", kp)
    occluded = PoseSample(sample.image_path, kp, np.array([1, 0, 2], dtype=np.int8))
    for s in (sample, occluded):
        item = PoseDataset([s], 1.0, (64, 96), AugmentConfig())[0]
        assert item["weights"][1] == 0
        assert torch.isfinite(item["keypoints"]).all()
    # Occluded-but-estimated points stay in the loss.
    assert PoseDataset([occluded], 1.0, (64, 96), None)[0]["weights"][0] == 1


def test_mixed_image_sizes_share_one_training_size(tmp_path) -> None:
    kp = np.array([[10.0, 12.0]], dtype=np.float32)
    samples = [
        draw_sample(tmp_path / "big.png", kp, (75, 83)),
        draw_sample(tmp_path / "small.png", kp, (47, 64)),
    ]
    size = training_size(samples, 0.5)
    assert size == (64, 64)
    ds = PoseDataset(samples, 0.5, size, AugmentConfig())
    assert {tuple(ds[i]["image"].shape) for i in range(2)} == {(3, 64, 64)}


def test_resize_maps_coordinates_with_pixel_centres(tmp_path) -> None:
    kp = np.array([[39.5, 29.5]], dtype=np.float32)  # the exact image centre
    sample = draw_sample(tmp_path / "c.png", kp, (60, 80))
    item = PoseDataset([sample], 0.5, (32, 64), None)[0]
    torch.testing.assert_close(item["keypoints"][0], torch.tensor([19.5, 14.5]))
    torch.testing.assert_close(item["scale_xy"], torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("index", [0, 1])
def test_items_have_documented_dtypes(make_samples, index: int) -> None:
    item = PoseDataset(make_samples(2), 1.0, (64, 96), AugmentConfig())[index]
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 64, 96)
    assert item["keypoints"].dtype == torch.float32 and item["keypoints"].shape == (3, 2)
    assert item["weights"].dtype == torch.float32


def test_small_crops_are_centred_on_the_animal(tmp_path) -> None:
    kp = np.array([[130.0, 100.0], [142.0, 110.0]], dtype=np.float32)  # near a corner
    sample = draw_sample(tmp_path / "corner.png", kp, (128, 160))
    aug = AugmentConfig(crop_size=(64, 64), crop_jitter=0.2, crop_random_p=0.0, **NO_GEOMETRY)
    ds = PoseDataset([sample], 1.0, (64, 64), aug, seed=1)
    for _ in range(20):
        item = ds[0]
        assert item["image"].shape == (3, 64, 64)
        assert item["weights"].tolist() == [1.0, 1.0]
        x, y = item["keypoints"][0].round().long().tolist()
        assert item["image"][0, y, x] > 150

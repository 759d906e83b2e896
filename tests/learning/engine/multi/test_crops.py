import numpy as np

from learning.engine.data import load_image
from learning.engine.multi.crops import cut_crops, write_instance_samples


def test_cut_crops_are_centred_and_padded_at_the_frame_edge() -> None:
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    crops, origins = cut_crops(image, np.array([[15.0, 10.0], [1.0, 1.0]]), 8)
    assert origins.tolist() == [[11, 6], [-3, -3]]
    np.testing.assert_array_equal(crops[0], image[6:14, 11:19])
    assert (crops[1][:3] == 0).all() and (crops[1][3:, 3:] == image[:5, :5]).all()


def test_instance_samples_centre_each_animal_and_label_only_it(make_frames, tmp_path) -> None:
    frame = make_frames(1, animals=2)[0]
    samples = write_instance_samples([frame], 64, str(tmp_path / "crops"), "t")
    assert len(samples) == 2
    for sample, kp in zip(samples, frame.keypoints, strict=True):
        assert load_image(sample.image_path).shape == (64, 64, 3)
        np.testing.assert_allclose(sample.keypoints.mean(axis=0), [32, 32], atol=0.5)
        np.testing.assert_allclose(sample.keypoints - sample.keypoints[0], kp - kp[0], atol=1e-4)

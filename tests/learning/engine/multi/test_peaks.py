import numpy as np
import torch

from learning.engine.multi.peaks import find_peaks, nms
from learning.engine.multi.topdown import centroid_samples
from learning.engine.targets import make_targets


def test_centroid_targets_have_one_peak_per_animal_and_decode_back(make_frames) -> None:
    frames = make_frames(6, animals=3)
    stride, sigma, radius, scale = 4, 3.0, 6.0, 4.5
    for frame, sample in zip(frames, centroid_samples(frames), strict=True):
        kp = torch.from_numpy(sample.keypoints)[None]
        targets = make_targets(kp, torch.ones(1, 3), (32, 32), stride, sigma, radius, scale,
                               torch.zeros(1, 3, dtype=torch.int64), 1)
        peaks = find_peaks(targets.heatmaps, targets.locref, stride, scale, 0.3, 8.0, 10)[0][0]
        assert len(peaks) == 3  # touching animals included: one peak each, nothing else
        found = sorted(map(tuple, np.round(peaks[:, :2], 3)))
        np.testing.assert_allclose(found, sorted(map(tuple, frame.anchors())), atol=1e-3)


def test_nms_keeps_the_best_of_close_peaks_and_at_most_max() -> None:
    peaks = np.array([[10, 10, 0.5], [12, 10, 0.9], [40, 40, 0.7], [80, 80, 0.6]], np.float32)
    kept = nms(peaks, radius=5.0, max_peaks=10)
    assert kept[:, 2].tolist() == np.float32([0.9, 0.7, 0.6]).tolist()
    assert len(nms(peaks, radius=5.0, max_peaks=2)) == 2
    assert nms(peaks[:0], 5.0, 3).shape == (0, 3)


def test_find_peaks_thresholds_per_channel_and_image() -> None:
    heat = torch.zeros(2, 2, 8, 8)
    heat[0, 0, 2, 3] = 0.8
    heat[0, 0, 6, 6] = 0.1  # below the threshold
    heat[1, 1, 4, 4] = 0.5
    peaks = find_peaks(heat, None, 4, 1.0, 0.2, 4.0, 5)
    assert [[len(c) for c in image] for image in peaks] == [[1, 0], [0, 1]]
    np.testing.assert_allclose(peaks[0][0][0], [3 * 4 + 1.5, 2 * 4 + 1.5, 0.8], rtol=1e-6)

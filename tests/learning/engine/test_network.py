"""PoseNet's cost accounting."""

from __future__ import annotations

import pytest

from learning.engine.config import ModelConfig
from learning.engine.network import PoseNet, forward_gflop


def test_forward_work_grows_with_pixels_and_matches_resnet18():
    model = PoseNet(ModelConfig(num_keypoints=4, pretrained=None)).eval()
    small, large = forward_gflop(model, 128, 128), forward_gflop(model, 256, 256)
    # fully convolutional: 4x the pixels is (nearly exactly) 4x the work
    assert large == pytest.approx(4 * small, rel=0.02)
    # ResNet-18's backbone is 1.82 G multiply-adds on 224x224 (3.6 GFLOP, torchvision's figure
    # less its classifier): at 256x256 it alone is 3.6 * (256/224)^2 = 4.7; the head adds more.
    backbone = forward_gflop(model.backbone, 256, 256)
    assert backbone == pytest.approx(3.63 * (256 / 224) ** 2, rel=0.05)
    assert large > backbone

import torch

from learning.engine.loss import pose_loss
from learning.engine.targets import make_targets


def test_not_present_keypoints_get_no_gradient() -> None:
    keypoints = torch.tensor([[[10.0, 12.0], [0.0, 0.0], [30.0, 20.0]]])
    weights = torch.tensor([[1.0, 0.0, 1.0]])
    targets = make_targets(keypoints, weights, (8, 10), 4, 6.0, 10.0, 8.0)
    logits = torch.randn(1, 3, 8, 10, requires_grad=True)
    locref = torch.randn(1, 3, 2, 8, 10, requires_grad=True)
    loss, parts = pose_loss(logits, locref, targets, locref_weight=0.05)
    loss.backward()
    assert logits.grad[0, 1].abs().sum() == 0
    assert locref.grad[0, 1].abs().sum() == 0
    assert logits.grad[0, 0].abs().sum() > 0 and locref.grad[0, 2].abs().sum() > 0
    assert set(parts) == {"heatmap", "locref"}


def test_all_absent_batch_gives_zero_loss() -> None:
    targets = make_targets(torch.zeros(2, 3, 2), torch.zeros(2, 3), (8, 10), 4, 6.0, 10.0, 8.0)
    loss, _ = pose_loss(torch.randn(2, 3, 8, 10), torch.randn(2, 3, 2, 8, 10), targets, 0.05)
    assert loss == 0

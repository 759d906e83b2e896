"""PoseNet: a torchvision backbone (features only) and a top-down upsampling heatmap head."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import torch
import torch.nn.functional as nnf
import torchvision
from torch import nn

from learning.engine.config import ModelConfig

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HEATMAP_BIAS_INIT = -4.0  # start near "no keypoint anywhere" so early BCE gradients are sane

_WEIGHTS: dict[str, Callable[[], torchvision.models.WeightsEnum]] = {
    "resnet18": lambda: torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
    "resnet50": lambda: torchvision.models.ResNet50_Weights.IMAGENET1K_V2,
    "mobilenet_v3_large": lambda: torchvision.models.MobileNet_V3_Large_Weights.IMAGENET1K_V2,
    "mobilenet_v3_small": lambda: torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1,
    "mobilenet_v2": lambda: torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V2,
    "efficientnet_b0": lambda: torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1,
}


def local_pretrained_path(backbone: str) -> str | None:
    """Path of torchvision's ImageNet weights for `backbone` in the local hub cache, or None."""
    url = _WEIGHTS[backbone]().url
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    return path if os.path.isfile(path) else None


class Backbone(nn.Module):
    """Backbone cut into stages whose outputs have strides 4, 8, 16, 32."""

    def __init__(self, name: str) -> None:
        super().__init__()
        model = getattr(torchvision.models, name)(weights=None)
        # Not a registered submodule (a tuple): it shares the stages' modules and is kept only to
        # load ImageNet state dicts by their torchvision keys, without saving the classifier.
        self._source = (model,)
        if name.startswith("resnet"):
            stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1)
            blocks = [stem, model.layer2, model.layer3, model.layer4]
        else:
            blocks = _group_by_stride(list(model.features))
        self.stages = nn.ModuleList(blocks)
        with torch.no_grad():
            probe = torch.zeros(1, 3, 64, 64)
            channels = []
            for stage in self.stages:
                probe = stage(probe)
                channels.append(probe.shape[1])
        self.channels: list[int] = channels
        self.strides: list[int] = [4, 8, 16, 32]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalized -> features at strides 4, 8, 16, 32."""
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def _group_by_stride(blocks: list[nn.Module]) -> list[nn.Module]:
    """Group a `features` sequence into stages ending at strides 4, 8, 16 and 32."""
    groups: list[list[nn.Module]] = [[] for _ in range(4)]
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        for block in blocks:
            x = block(x)
            stride = 64 // x.shape[-1]
            if stride > 32:
                break
            groups[max(0, stride.bit_length() - 3)].append(block)
    return [nn.Sequential(*g) for g in groups]


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PoseNet(nn.Module):
    """Images (B, 3, H, W) float in [0, 1], H and W multiples of 32 ->
    heatmap logits (B, K, H/s, W/s) and locref offsets (B, K, 2, H/s, W/s) or None (s = stride).

    The head is top-down: project each backbone level to `head_channels`, upsample, add the next
    finer level, smooth with a 3x3 conv, down to the heatmap stride (FPN-style skips keep the
    fine localisation that plain deconvolution from stride 32 loses).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg.backbone)
        c = cfg.head_channels
        levels = [i for i, s in enumerate(self.backbone.strides) if s >= cfg.heatmap_stride]
        self.levels = levels
        self.lateral = nn.ModuleList(
            nn.Conv2d(self.backbone.channels[i], c, 1) for i in levels
        )
        self.smooth = nn.ModuleList(_conv_bn_relu(c, c) for _ in levels[:-1])
        extra = self.backbone.strides[levels[0]] // cfg.heatmap_stride
        self.upsample_extra = extra  # only > 1 for stride 2
        k = cfg.num_keypoints
        self.heatmap = nn.Conv2d(c, k, 1)
        self.locref = nn.Conv2d(c, 2 * k, 1) if cfg.locref else None
        nn.init.normal_(self.heatmap.weight, std=0.001)
        nn.init.constant_(self.heatmap.bias, HEATMAP_BIAS_INIT)
        if self.locref is not None:
            nn.init.normal_(self.locref.weight, std=0.001)
            nn.init.zeros_(self.locref.bias)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def load_backbone_weights(self, path: str) -> None:
        """Load an ImageNet classifier state dict (torchvision layout) into the backbone."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing, unexpected = self.backbone._source[0].load_state_dict(state, strict=False)
        logger.info("loaded backbone weights %s (missing %d, unexpected %d)",
                    path, len(missing), len(unexpected))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """See the class docstring for shapes."""
        feats = self.backbone((images - self.mean) / self.std)
        feats = [feats[i] for i in self.levels]
        x = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            lateral = self.lateral[i](feats[i])
            x = nnf.interpolate(x, size=lateral.shape[-2:], mode="nearest") + lateral
            x = self.smooth[i](x)
        if self.upsample_extra > 1:
            x = nnf.interpolate(x, scale_factor=self.upsample_extra, mode="bilinear")
        heatmaps = self.heatmap(x)
        if self.locref is None:
            return heatmaps, None
        b, k, h, w = heatmaps.shape
        return heatmaps, self.locref(x).view(b, k, 2, h, w)


def build_model(cfg: ModelConfig) -> PoseNet:
    """A fresh PoseNet; backbone ImageNet weights per `cfg.pretrained` (never downloads)."""
    model = PoseNet(cfg)
    path = cfg.pretrained
    if path == "auto":
        path = local_pretrained_path(cfg.backbone)
        if path is None:
            logger.info("no local ImageNet weights for %s; training from scratch", cfg.backbone)
    if path:
        model.load_backbone_weights(path)
    return model


def forward_gflop(model: nn.Module, height: int, width: int) -> float:
    """Floating-point work (GFLOP; a multiply-add counts 2) of one forward pass on a
    (height, width) image, counted by PyTorch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, height, width))
    return counter.get_total_flops() / 1e9

"""Backbones made for 40-48 px faces, registered in timm so configurations name them like any timm model.

An ImageNet backbone (stride 32) shrinks a 44 px face to 1-2 pixels before its last stages; these VGG-style
nets (pairs of conv3x3-BN-ReLU, three 2x2 poolings, global average pooling) keep a 5x5 map at the last stage.
``timm.create_model("face_vgg_s", num_classes=0, in_chans=1)`` gives the pooled 256-d features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.models import register_model
from torch import nn


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class FaceVGG(nn.Module):
    """Stages of ``convs_per_stage`` conv-BN-ReLU; 2x2 max-pool after every stage but the last; GAP; linear."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256), convs_per_stage: int = 2, in_chans: int = 1,
                 num_classes: int = 0, drop_rate: float = 0.0, pool_grid: int = 1, **_: object):
        super().__init__()
        layers, cin = [], in_chans
        for i, width in enumerate(widths):
            for _ in range(convs_per_stage):
                layers += _conv_bn_relu(cin, width)
                cin = width
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        # pool_grid 2 keeps where a feature is (aligned faces: eyes above, mouth below) at no extra compute
        self.pool = nn.AdaptiveAvgPool2d(pool_grid)
        self.num_features = cin * pool_grid * pool_grid
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(cin, num_classes) if num_classes else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.pool(self.features(x)).flatten(1)))


def _no_pretrained(name: str, pretrained: bool) -> None:
    if pretrained:
        raise ValueError(f"{name} has no pretrained weights: it is trained from scratch on the face data sets")


@register_model
def face_vgg_s(pretrained: bool = False, **kwargs) -> FaceVGG:
    """1.2 M parameters (32-64-128-256): the CPU model."""
    _no_pretrained("face_vgg_s", pretrained)
    return FaceVGG((32, 64, 128, 256), **kwargs)


@register_model
def face_vgg_s_grid2(pretrained: bool = False, **kwargs) -> FaceVGG:
    """face_vgg_s averaged over a 2x2 grid instead of the whole map: 1,024-d features, the same compute."""
    _no_pretrained("face_vgg_s_grid2", pretrained)
    return FaceVGG((32, 64, 128, 256), pool_grid=2, **kwargs)


@register_model
def face_vgg_xs(pretrained: bool = False, **kwargs) -> FaceVGG:
    """0.3 M parameters (16-32-64-128): the quick model of ``make run``."""
    _no_pretrained("face_vgg_xs", pretrained)
    return FaceVGG((16, 32, 64, 128), **kwargs)


@register_model
def face_vgg_m(pretrained: bool = False, **kwargs) -> FaceVGG:
    """4.7 M parameters (64-128-256-512), the width of Khaireddin and Chen's FER2013 VGG."""
    _no_pretrained("face_vgg_m", pretrained)
    return FaceVGG((64, 128, 256, 512), **kwargs)

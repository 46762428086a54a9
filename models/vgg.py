"""``vgg11``: VGG11 with instance norm, as in the dataset-distillation cross-architecture checks.

Configuration 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M (3x3 convolutions with
padding 1, each followed by instance norm ``GroupNorm(C, C)`` and ReLU; M = 2x2 max pooling)
and one linear layer. On 32 x 32 images the features end at 1 x 1 x 512. On smaller inputs
the pooling stages are skipped once the map is 1 pixel wide, so an 8 x 8 beam map pools
three times and also ends at 1 x 1 x 512.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.models.layers import Norm, make_norm, pool_or_identity
from beamsim.models.registry import register_model

__all__ = ["VGG", "VGG11_CONFIG"]

VGG11_CONFIG: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG(nn.Module):
    """VGG from a configuration of widths and ``"M"`` (max pool).

    Shapes: [batch, C, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (32, 32),
                 config: tuple[int | str, ...] = VGG11_CONFIG, norm: Norm = "instance") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = tuple(image_size)
        prev = in_channels
        for item in config:
            if item == "M":
                pool, size = pool_or_identity(nn.MaxPool2d(kernel_size=2, stride=2), size)
                layers.append(pool)
            else:
                width = int(item)
                layers += [nn.Conv2d(prev, width, kernel_size=3, padding=1), make_norm(norm, width),
                           nn.ReLU(inplace=True)]
                prev = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(prev * size[0] * size[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


@register_model("vgg11")
def vgg11(in_channels: int, num_classes: int, image_size: tuple[int, int]) -> VGG:
    """VGG11 with instance norm."""
    return VGG(in_channels, num_classes, image_size, VGG11_CONFIG, norm="instance")

"""``convnet3`` / ``convnet5``: the ConvNet of the dataset-distillation literature.

Each of the D blocks is a 3x3 convolution of width 128 (padding 1), instance norm
(``GroupNorm(128, 128)``), ReLU and 2x2 average pooling; a linear layer maps the flattened
features to the logits. On 32 x 32 images ConvNetD3 ends at 4 x 4 x 128 (2,048 features).

Small inputs: a block pools only while its input is at least 2 x 2
(:func:`~beamsim.models.layers.pool_or_identity`). On an 8 x 8 beam map ConvNetD3 pools
8 -> 4 -> 2 -> 1 and ConvNetD5 pools in its first three blocks and keeps 1 x 1 in the last two.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.models.layers import Norm, make_norm, pool_or_identity
from beamsim.models.registry import register_model

__all__ = ["ConvNet"]


class ConvNet(nn.Module):
    """ConvNet with ``depth`` conv-norm-ReLU-avgpool blocks.

    Args:
        in_channels: input channels C (see :func:`beamsim.models.get_model`).
        num_classes: output classes (see :func:`beamsim.models.get_model`).
        image_size: (H, W) of the inputs (see :func:`beamsim.models.get_model`).
        depth: number of blocks (3 for ConvNetD3, 5 for ConvNetD5).
        width: channels of every convolution (128).
        norm: ``instance`` (default), ``batch`` or ``none``.

    Shapes: [batch, C, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (32, 32),
                 depth: int = 3, width: int = 128, norm: Norm = "instance") -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"ConvNet depth must be >= 1, got {depth}")
        layers: list[nn.Module] = []
        size = tuple(image_size)
        prev = in_channels
        for _ in range(depth):
            pool, size = pool_or_identity(nn.AvgPool2d(kernel_size=2, stride=2), size)
            layers += [nn.Conv2d(prev, width, kernel_size=3, padding=1), make_norm(norm, width),
                       nn.ReLU(inplace=True), pool]
            prev = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width * size[0] * size[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


@register_model("convnet3")
def convnet3(in_channels: int, num_classes: int, image_size: tuple[int, int]) -> ConvNet:
    """ConvNetD3 (width 128, instance norm, average pooling)."""
    return ConvNet(in_channels, num_classes, image_size, depth=3)


@register_model("convnet5")
def convnet5(in_channels: int, num_classes: int, image_size: tuple[int, int]) -> ConvNet:
    """ConvNetD5 (width 128, instance norm, average pooling)."""
    return ConvNet(in_channels, num_classes, image_size, depth=5)

"""``resnet18``: ResNet18 with instance norm, as in the dataset-distillation cross-architecture checks.

A 3x3 stem (64 channels, stride 1), four stages of two basic blocks (64, 128, 256, 512
channels; strides 1, 2, 2, 2; 1x1 projection shortcuts where the shape changes), global
average pooling and one linear layer. Norm layers are instance norm (``GroupNorm(C, C)``).
On 32 x 32 images the last stage is 4 x 4; on 8 x 8 beam maps it is 1 x 1 (a stride-2
convolution on a 1-pixel map keeps 1 pixel), so no special case is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from beamsim.models.layers import Norm, make_norm
from beamsim.models.registry import register_model

__all__ = ["BasicBlock", "ResNet"]


class BasicBlock(nn.Module):
    """Two 3x3 conv-norm layers with a residual connection."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, norm: Norm = "instance") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.norm1 = make_norm(norm, planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.norm2 = make_norm(norm, planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                                          make_norm(norm, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet of basic blocks.

    Shapes: [batch, C, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, blocks: tuple[int, ...] = (2, 2, 2, 2),
                 norm: Norm = "instance") -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False),
                                  make_norm(norm, 64), nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        prev = 64
        for i, count in enumerate(blocks):
            planes = 64 * 2**i
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                stages.append(BasicBlock(prev, planes, stride, norm))
                prev = planes
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(self.stem(x))
        return self.classifier(F.adaptive_avg_pool2d(out, 1).flatten(1))


@register_model("resnet18")
def resnet18(in_channels: int, num_classes: int, image_size: tuple[int, int]) -> ResNet:
    """ResNet18 with instance norm (the image size does not change the layers)."""
    return ResNet(in_channels, num_classes, (2, 2, 2, 2), norm="instance")

"""``beamcnn``: the three-layer CNN for beam prediction.

Three 3x3 convolutions (32, 64, 64 channels, padding 1, ReLU) keep the 8 x 8 beam map at
full resolution; one linear layer maps the 64 x H x W features to the class logits. About
0.3 M parameters on an 8 x 8 map with 64 classes: small and fast on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.models.registry import register_model

__all__ = ["BeamCNN"]


@register_model("beamcnn")
class BeamCNN(nn.Module):
    """Three conv layers and one linear layer.

    Args:
        in_channels: C of the input (1 for a beam map, 2 with the mask channel, 3 for RGB).
        num_classes: number of logits (64 beams).
        image_size: (H, W) of the input (8, 8 for beam maps).
        widths: channels of the three convolutions.

    Shapes: [batch, C, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (8, 8),
                 widths: tuple[int, int, int] = (32, 64, 64)) -> None:
        super().__init__()
        h, w = image_size
        layers: list[nn.Module] = []
        prev = in_channels
        for width in widths:
            layers += [nn.Conv2d(prev, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            prev = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(prev * h * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))

"""``beammlp``: a small MLP for vector-like beam inputs (e.g. a handful of wide-beam RSRPs).

The input [batch, C, H, W] is flattened; two hidden layers (256, 256, ReLU) and a linear
layer give the class logits. About 0.08 M parameters for 8 wide beams and 32 classes. Where
the input is a map a convolution can use (the 8 x 8 UE grid, the 4 x 8 BS grid), ``beamcnn``
is the default; ``beammlp`` serves inputs too small or too unordered for a 3 x 3 kernel.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.models.registry import register_model

__all__ = ["BeamMLP"]


@register_model("beammlp")
class BeamMLP(nn.Module):
    """Flatten, two hidden layers, logits.

    Args:
        in_channels: C of the input.
        num_classes: number of logits (the Set A beams).
        image_size: (H, W) of the input (e.g. (2, 4) for 8 wide beams).
        hidden: widths of the hidden layers.

    Shapes: [batch, C, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (8, 8),
                 hidden: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        h, w = image_size
        layers: list[nn.Module] = [nn.Flatten()]
        prev = in_channels * h * w
        for width in hidden:
            layers += [nn.Linear(prev, width), nn.ReLU(inplace=True)]
            prev = width
        layers.append(nn.Linear(prev, num_classes))
        self.net = nn.Sequential(*layers)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's features: [batch, hidden[-1]] (distribution matching, coresets)."""
        return self.net[:-1](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

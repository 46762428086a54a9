"""``alexnet``: the small AlexNet of the dataset-distillation cross-architecture checks.

Five convolutions (128, 192, 256, 192, 192 channels; 5x5, 5x5, 3x3, 3x3, 3x3, "same"
padding), ReLU, and 2x2 max pooling after the first, second and fifth; a linear layer on the
flattened features. As in the dataset-distillation code the default has no normalisation
(``norm="instance"`` or ``"batch"`` adds one after every convolution). Pooling stages are
skipped once the map is down to 1 pixel (see :func:`~beamsim.models.layers.pool_or_identity`):
32 x 32 images end at 4 x 4, 8 x 8 beam maps at 1 x 1.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.models.layers import Norm, make_norm, pool_or_identity
from beamsim.models.registry import register_model

__all__ = ["AlexNet"]

_LAYERS = ((128, 5, True), (192, 5, True), (256, 3, False), (192, 3, False), (192, 3, True))


@register_model("alexnet")
class AlexNet(nn.Module):
    """AlexNet for small inputs.

    Shapes: [batch, C, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (32, 32),
                 norm: Norm = "none") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = tuple(image_size)
        prev = in_channels
        for width, kernel, pools in _LAYERS:
            layers += [nn.Conv2d(prev, width, kernel_size=kernel, padding=kernel // 2),
                       make_norm(norm, width), nn.ReLU(inplace=True)]
            if pools:
                pool, size = pool_or_identity(nn.MaxPool2d(kernel_size=2, stride=2), size)
                layers.append(pool)
            prev = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(prev * size[0] * size[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))

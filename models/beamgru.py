"""``beamgru``: a small temporal model for beam prediction from a history of measurements (BM-Case2).

The input [batch, K, H, W] holds K instants (oldest first) of a measured beam map (the masked
Set A grid or the wide beams) as K channels. Each instant is flattened and encoded by one
linear layer (H x W -> 64, ReLU); a GRU (64 -> 128) runs over the K instants; one linear layer
maps its last state to the class logits (the best Set A beam at one horizon). About 0.07 M
parameters for 8 instants of a 4 x 8 grid and 32 classes.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.models.registry import register_model

__all__ = ["BeamGRU"]


@register_model("beamgru")
class BeamGRU(nn.Module):
    """Per-instant linear encoder, GRU over the instants, linear head.

    Args:
        in_channels: K, the instants of the history.
        num_classes: number of logits (the Set A beams).
        image_size: (H, W) of one instant's map.
        width: features per instant; hidden: the GRU's state size.

    Shapes: [batch, K, H, W] float32 -> [batch, num_classes] float32 logits.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (8, 8), width: int = 64,
                 hidden: int = 128) -> None:
        super().__init__()
        h, w = image_size
        self.encode = nn.Sequential(nn.Linear(h * w, width), nn.ReLU(inplace=True))
        self.gru = nn.GRU(width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The GRU's last state: [batch, hidden] (distribution matching, coresets)."""
        steps = self.encode(x.flatten(2))  # [batch, K, width]
        _, state = self.gru(steps)
        return state[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

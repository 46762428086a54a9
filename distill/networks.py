"""The run's network architecture, built on demand for the objectives, experts and validation.

A distillation run uses one architecture (``config.model``) in several roles: a freshly drawn
network per DM/DC iteration, the functional student of trajectory matching, the quick model
of validation and the feature network of coreset initialisations. :class:`Networks` holds the
four facts that build it (name, input shape, classes, device) so that no role repeats them.

>>> nets = Networks("beamcnn", (1, 8, 8), 4, torch.device("cpu"))
>>> nets.fresh(torch.Generator().manual_seed(0))(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 4])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from beamsim.models import get_model, reset_parameters

__all__ = ["Networks"]


@dataclass(frozen=True)
class Networks:
    """Builds ``name`` for inputs [C, H, W] = ``input_shape`` and ``num_classes`` logits.

    Attributes:
        name: registered model name (``beamsim.models.list_models()``).
        input_shape: (C, H, W) of one sample.
        num_classes: logits of the network.
        device: where the built networks live.
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    device: torch.device

    def _build(self) -> nn.Module:
        return get_model(self.name, self.input_shape[0], self.num_classes, tuple(self.input_shape[1:]))

    def build(self) -> nn.Module:
        """A network with PyTorch's default initialisation (its parameters are not used: the
        student of trajectory matching, a feature network about to be loaded), on ``device``."""
        return self._build().to(self.device)

    def fresh(self, generator: torch.Generator) -> nn.Module:
        """A network whose parameters are all drawn from ``generator``
        (:func:`beamsim.models.reset_parameters`), on ``device``."""
        model = self._build()
        reset_parameters(model, generator)
        return model.to(self.device)

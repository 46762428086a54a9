"""Uniform quantization with a learnable clipping threshold and straight-through rounding.

``2^b`` evenly spaced levels on [0, 1] (unsigned) or [-1, 1] (signed), scaled by alpha:
``x_hat = alpha * (lo + round((xn - lo) / step) * step)``, ``xn = clamp(x / alpha, lo, 1)``,
``step = (1 - lo) / (2^b - 1)``. Gradients as for APoT (:mod:`beamsim.distill.quant.clipped`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from beamsim.distill.quant.clipped import ClippedConfig, ClippedQuantizer
from beamsim.distill.quant.registry import register_quantizer
from beamsim.distill.quant.ste import ste_round

__all__ = ["UniformConfig", "UniformQuantizer"]


@dataclass(frozen=True)
class UniformConfig(ClippedConfig):
    """Settings of :class:`UniformQuantizer` (see :class:`ClippedConfig` for the fields)."""


@register_quantizer("uniform")
class UniformQuantizer(ClippedQuantizer):
    """Uniform quantizer: hard rounding with the straight-through estimator.

    Codes ``k`` in ``[0, 2^b)`` stand for the value ``alpha * (lo + k * step)``.

    Example:
        >>> q = UniformQuantizer(bits=2, signed=False).initialize(torch.ones(1, 3))
        >>> q(torch.tensor([[0.1, 0.4, 2.0]])).tolist()
        [[0.0, 0.3333333432674408, 1.0]]
    """

    config_class = UniformConfig
    config: UniformConfig

    def _step(self) -> float:
        return (1.0 - self._lower()) / (2 ** self.bits - 1)

    def _index(self, xn: torch.Tensor) -> torch.Tensor:
        return torch.round((xn.detach() - self._lower()) / self._step()).long()

    def _level_of(self, codes: torch.Tensor) -> torch.Tensor:
        return self._lower() + codes.to(torch.float32) * self._step()

    def _project(self, xn: torch.Tensor) -> torch.Tensor:
        return self._lower() + ste_round((xn - self._lower()) / self._step()) * self._step()

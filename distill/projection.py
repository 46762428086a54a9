"""Where the synthetic set S may go after a step: constant features back at their constant,
values inside the real data's range (S moved behind a latent-input quantizer's bound first)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from beamsim.distill.constant import apply_constant
from beamsim.distill.quant import Quantizer

__all__ = ["Projection", "projection"]


@dataclass(frozen=True)
class Projection:
    """Where S may go after a step: constant features at ``fill`` (where ``mask``), values in
    ``bounds`` (None: unbounded, e.g. a latent whose values the quantizer bounds)."""

    mask: torch.Tensor | None
    fill: torch.Tensor | None
    bounds: tuple[float, float] | None

    @torch.no_grad()
    def __call__(self, syn: torch.Tensor) -> None:
        if self.mask is not None:
            syn.copy_(apply_constant(syn, self.mask, self.fill))
        if self.bounds is not None:
            syn.clamp_(*self.bounds)


def projection(syn: torch.Tensor, quantizer: Quantizer | None, constant: tuple[torch.Tensor, torch.Tensor] | None,
               bounds: tuple[float, float] | None) -> Projection:
    """Where S may go (``constant``: mask and values of the constant features; ``bounds``: the
    value range, None for none). Moves S (and the constants) behind a latent-input quantizer's
    bound (FSQ), whose latent is never clamped to the data's range."""
    mask, fill = constant if constant is not None else (None, None)
    latent = quantizer is not None and quantizer.latent_input
    if latent:
        with torch.no_grad():
            syn.copy_(quantizer.to_latent(syn))
        if mask is not None:
            fill = quantizer.to_latent(fill)
    return Projection(mask, fill, None if latent else bounds)

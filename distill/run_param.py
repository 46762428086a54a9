"""The parameterization of a distillation run: built and fitted, its optimiser, its decoded view.

A run with ``config.param.name = "none"`` has none and everything here returns what the loop
had before parameterizations existed (S itself, Q(S)). With one (:mod:`beamsim.distill.param`),
the learned tensor S is the parameterization's latent and the samples are ``P(Q(S))`` (FreD,
QuADD + FreD) or ``P(S)`` (AutoPalette).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from beamsim.config import derive_seed
from beamsim.distill.param import Parameterization, build_param

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["loop_param", "param_optimizer", "decode", "decoded_view"]


def loop_param(config: "DistillConfig", x_real: torch.Tensor, constant: tuple[torch.Tensor, torch.Tensor] | None, *,
               seed: int, device: torch.device) -> Parameterization | None:
    """The run's parameterization fitted to the real training samples ``x_real`` [N, *shape]
    (None for ``param = "none"``). Its random initialisation comes from its own generator,
    ``derive_seed(seed, "param")``.

    Raises:
        ValueError: the data's shape does not suit it, or its settings do not (one line).
    """
    generator = torch.Generator(device="cpu").manual_seed(derive_seed(seed, "param"))
    param = build_param(config.param, generator=generator)
    if param is None:
        return None
    return param.to(device).fit(x_real, constant)


def param_optimizer(param: Parameterization | None, lr: float) -> torch.optim.Adam | None:
    """Adam on the parameterization's learnable parts (None: none, or nothing to learn)."""
    params = [p for p in param.parameters() if p.requires_grad] if param is not None else []
    return torch.optim.Adam(params, lr=lr) if params else None


def decode(syn: torch.Tensor, quantizer: nn.Module | None, param: Parameterization | None) -> torch.Tensor:
    """The samples the objective sees: ``P(Q(S))``, with Q and P left out where the run has none."""
    x = quantizer(syn) if quantizer is not None else syn
    return param(x) if param is not None else x


@torch.no_grad()
def decoded_view(syn: torch.Tensor, quantizer: nn.Module | None, param: Parameterization | None) -> torch.Tensor:
    """What a model trains on and the file decodes to: :func:`decode` with Q and P in eval mode
    (their modes restored afterwards); detached, a copy."""
    modules = [m for m in (quantizer, param) if m is not None]
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    x = decode(syn, quantizer, param).detach().clone()
    for m, mode in zip(modules, was):
        m.train(mode)
    return x

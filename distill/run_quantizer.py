"""The quantizer of a distillation run: which one, when, with which settings, and its thresholds.

A run's quantizer (``config.quantizer.name``) is either in the loop (``config.quantized_in_loop``: the loss sees
Q(S) every iteration and the thresholds learn with Adam), applied once to the kept set after
the loop (a registered quantizer that is not in the loop: ``ptq``), or ``none``.

The settings a quantizer gets are the fields of the run's ``[quantizer]`` group that its own
config class also has (:func:`quantizer_settings`): the registry's ``config_class`` says which,
so no quantizer is special-cased by name. The group's threshold settings (``granularity``,
``percentile``, ``normalize``) are those of the in-loop quantizer; the quantizer applied after
the loop gets its bit width only and keeps its own defaults (``ptq``: one range per tensor).

>>> from beamsim.distill.config import DistillConfig
>>> quantizer_settings(DistillConfig().replace(quantizer="apot", bits=4), "apot")
{'bits': 4, 'granularity': 'feature', 'normalize': False, 'percentile': 99.5}
>>> quantizer_settings(DistillConfig().replace(quantizer="fsq", bits=4), "fsq")
{'bits': 4}
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from beamsim.config import derive_seed
from beamsim.distill.quant import Quantizer, build_quantizer, quantizer_class, quantizer_names

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["quantizer_settings", "loop_quantizer", "final_quantizer", "threshold_optimizer", "clamp_thresholds",
           "thresholds", "threshold_stats", "MIN_ALPHA"]

#: Learned thresholds never fall below this (they divide the data).
MIN_ALPHA = 1e-6


def quantizer_settings(config: "DistillConfig", name: str) -> dict[str, Any]:
    """The fields of ``config.quantizer`` that quantizer ``name``'s config class also has, by name (sorted)."""
    own = {f.name for f in dataclasses.fields(quantizer_class(name).config_class)}
    shared = own & {f.name for f in dataclasses.fields(config.quantizer)}
    return {field: getattr(config.quantizer, field) for field in sorted(shared)}


def loop_quantizer(config: "DistillConfig", x_init: torch.Tensor, *, seed: int,
                   device: torch.device) -> Quantizer | None:
    """The in-loop quantizer fitted to ``x_init`` [M, C, H, W] (None when the run has none).

    Its noise (FSQ) comes from its own generator, ``derive_seed(seed, "quantizer")``.
    """
    if not config.quantized_in_loop:
        return None
    generator = torch.Generator(device="cpu").manual_seed(derive_seed(seed, "quantizer"))
    name = config.quantizer.name
    quantizer = build_quantizer(name, generator=generator, **quantizer_settings(config, name)).to(device)
    quantizer.initialize(x_init.detach())
    return quantizer


def final_quantizer(config: "DistillConfig", raw: torch.Tensor, *, device: torch.device) -> Quantizer | None:
    """The quantizer applied once to the kept set ``raw`` after the loop (``ptq``), fitted to
    it; None when the quantizer was in the loop or there is none."""
    if config.quantized_in_loop or config.quantizer.name not in quantizer_names():
        return None
    quantizer = build_quantizer(config.quantizer.name, bits=config.quantizer.bits).to(device)
    quantizer.initialize(raw)
    return quantizer


def threshold_optimizer(quantizer: Quantizer | None, lr: float) -> torch.optim.Adam | None:
    """Adam on the quantizer's learnable thresholds (None: no quantizer, nothing to learn, or ``lr = 0``)."""
    params = [p for p in quantizer.parameters() if p.requires_grad] if quantizer is not None else []
    return torch.optim.Adam(params, lr=lr) if params and lr > 0 else None


@torch.no_grad()
def clamp_thresholds(optimizer: torch.optim.Optimizer) -> None:
    """Keep every threshold the optimiser updates at or above :data:`MIN_ALPHA`."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.clamp_(min=MIN_ALPHA)


def thresholds(quantizer: Quantizer | None) -> torch.Tensor | None:
    """A copy of the quantizer's thresholds (its first parameter), or None."""
    params = list(quantizer.parameters()) if quantizer is not None else []
    return params[0].detach().clone() if params else None


def threshold_stats(quantizer: Quantizer | None, initial: torch.Tensor | None) -> dict[str, float]:
    """The log of the thresholds: mean, min, max and the mean distance moved from ``initial``
    (empty without thresholds)."""
    alpha = thresholds(quantizer)
    if alpha is None or initial is None:
        return {}
    return {"alpha_mean": float(alpha.mean()), "alpha_min": float(alpha.min()), "alpha_max": float(alpha.max()),
            "alpha_moved": float((alpha - initial).abs().mean())}
